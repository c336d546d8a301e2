"""Build the bundled first-run sample documents in src/kbdesk/assets/samples/.

Usage::

    .venv/bin/python build/make_samples.py [OUT_DIR]      # default: src/kbdesk/assets/samples

Writes two small, clearly fictional documents that kbdesk offers on first run, and a guide:

* ``Sample_Mutual_NDA.pdf``   - an English two-page non-disclosure agreement
* ``示例_术后护理须知.pdf``     - a Chinese two-page post-operative care leaflet
* ``../Welcome_to_kbdesk.md`` - a short guide to the app, shown on first run; it sits beside
  the samples, not among them, so it never answers questions about the user's documents

The PDFs use PyMuPDF's built-in fonts (Helvetica and the ``china-s`` CJK font), which are
referenced, not embedded, so each file stays a few kilobytes. Output is deterministic.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT = ROOT / "src" / "kbdesk" / "assets" / "samples"
MAX_PDF_BYTES = 60 * 1024

NDA_EN = {
    "filename": "Sample_Mutual_NDA.pdf",
    "title": "SAMPLE - Mutual Non-Disclosure Agreement (fictional)",
    "language": "en",
    "pages": [
        [
            "SAMPLE DOCUMENT - FICTIONAL PARTIES - FOR DEMONSTRATION ONLY. This sample ships with "
            "kbdesk so that you can try asking questions before importing your own files. It is "
            "not legal advice and should not be used as a contract.",
            "MUTUAL NON-DISCLOSURE AGREEMENT",
            'This Mutual Non-Disclosure Agreement (the "Agreement") is made on 1 March 2025 '
            '(the "Effective Date") between Example Analytics Ltd, 10 Sample Street, Exampletown '
            '("Example"), and Demo Health Partners LLP, 22 Placeholder Road, Exampletown '
            '("Demo"). Each party may disclose or receive Confidential Information.',
            "1. Purpose. The parties wish to exchange information solely to evaluate a possible "
            'project to analyse anonymised appointment data for Demo\'s clinics (the "Purpose").',
            '2. Confidential Information. "Confidential Information" means all non-public '
            "information disclosed by one party to the other, in any form, that is marked "
            "confidential or that a reasonable person would understand to be confidential. "
            "Information disclosed orally is confidential only if it is identified as such at "
            "the time and summarised in writing within fourteen (14) days.",
            "3. Exclusions. Confidential Information does not include information that is or "
            "becomes public through no fault of the receiving party, was already lawfully known "
            "to it, is received from a third party without restriction, or is independently "
            "developed without use of the Confidential Information.",
            "4. Obligations. The receiving party shall use Confidential Information only for the "
            "Purpose, protect it with at least reasonable care, and disclose it only to employees "
            "and advisers who need to know it and are bound by equivalent duties of "
            "confidentiality.",
        ],
        [
            "5. Return or Destruction. Within ten (10) business days after a written request, the "
            "receiving party shall return or destroy all Confidential Information and confirm "
            "this in writing.",
            "6. Term. This Agreement covers disclosures made during one (1) year from the "
            "Effective Date. Either party may end it earlier by giving thirty (30) days' written "
            "notice. The duties of confidentiality continue for three (3) years after each "
            "disclosure.",
            "7. No Licence. No licence or other right in any intellectual property is granted, "
            "except the limited right to use Confidential Information for the Purpose.",
            "8. Remedies. Unauthorised disclosure may cause harm that money cannot fully repair, "
            "so the disclosing party may seek an injunction in addition to any other remedy.",
            "9. Governing Law. This Agreement is governed by the laws of Exampleland, and its "
            "courts have exclusive jurisdiction.",
            "Signed for Example Analytics Ltd by A. Sample, Director. "
            "Signed for Demo Health Partners LLP by B. Placeholder, Partner.",
        ],
    ],
}

CARE_ZH = {
    "filename": "示例_术后护理须知.pdf",
    "title": "示例：腹腔镜胆囊切除术后护理须知（虚构内容）",
    "language": "zh",
    "pages": [
        [
            "示例文档：本文件内容为虚构，仅用于演示 kbdesk 的问答与引用功能，不构成医疗建议。"
            "如有健康问题，请咨询您的医生。",
            "腹腔镜胆囊切除术后护理须知（示例）",
            "示例医院 普外科　2025年版",
            "一、术后饮食\n术后6小时内禁食禁水，之后如无恶心、呕吐，可少量饮用温开水。术后第1天可进食"
            "米汤等清流质饮食，再逐步过渡到半流质和普通饮食。出院后1个月内坚持低脂饮食，"
            "每日油脂总量控制在40 g以内，避免油炸食物和动物内脏，少量多餐，每日5～6餐。",
            "二、伤口护理\n切口一般无需拆线。请保持敷料清洁干燥，术后第3天换药一次。术后7天内请勿"
            "淋浴，可用温水擦身；术后7天伤口愈合良好的，可以淋浴。术后4周内不宜盆浴或游泳。",
            "三、肩背部疼痛\n术中注入的二氧化碳气体可能引起右肩或背部酸痛，一般在2～3天内自行缓解，"
            "可多下床走动或热敷肩部。",
        ],
        [
            "四、活动与休息\n术后第1天即可在家属陪同下下床活动。术后2周内避免提举超过5 kg的重物，"
            "1个月内避免剧烈运动。办公室工作者一般在术后1～2周可恢复工作。",
            "五、出现以下情况请及时就诊\n（一）体温≥38.5℃，或持续低热超过24小时；\n"
            "（二）皮肤、眼白发黄，或尿色呈浓茶色；\n（三）腹痛持续加重；\n"
            "（四）伤口红肿、有脓性分泌物或裂开。",
            "六、复诊安排\n请于术后2周到门诊复诊，领取病理检查报告。术后3个月复查肝功能和腹部B超。",
        ],
    ],
}

WELCOME_MD = """\
# Welcome to kbdesk

kbdesk answers questions about **your own documents**, with a citation for every claim, and
it runs entirely on this computer.

## 1. Add documents

Drag PDF files (or a whole folder) onto the **Library** pane.
Each file shows its progress: queued, parsing, embedding, ready. Unchanged files are skipped
when you add them again; changed files are re-indexed. You can cancel an import at any time.

Three sample documents are included so you can try it straight away:

- `Sample_Mutual_NDA.pdf` - a fictional two-page English non-disclosure agreement
- `示例_术后护理须知.pdf` - a fictional two-page Chinese post-operative care leaflet
- this guide

## 2. Ask a question

Type a question in the **Chat** pane, in English or Chinese - you can ask in one language about
a document written in the other. Try:

- "How long do the confidentiality duties in the sample NDA last?"
- "术后多久可以洗澡？"
- "What should I eat after gallbladder surgery?"

## 3. Check the sources

Every sentence that rests on a document ends with a citation such as [1]. Click it and the
**Citation** pane opens the document at that page with the passage highlighted, so you can
verify the answer in seconds. If your documents do not contain the answer, kbdesk says
"not in your documents" instead of guessing.

## 4. Your documents stay here

Nothing leaves this machine: no cloud service, no account, no telemetry. Documents, the search
index and the language model all live in your local kbdesk data folder, and kbdesk works with
the network switched off.

The sample documents are fictional and for demonstration only; they are not legal or medical
advice.
"""


def _render_pdf(spec: dict, path: Path) -> Path:
    import pymupdf

    zh = spec["language"] == "zh"
    fontname = "china-s" if zh else "helv"
    rect = pymupdf.Rect(64, 64, 595 - 64, 842 - 72)
    pdf = pymupdf.open()
    total = len(spec["pages"])
    for number, paras in enumerate(spec["pages"], start=1):
        text = "\n\n".join(paras)
        size = 11.0 if not zh else 10.5
        while True:  # shrink until the page's text fits; never drop text
            probe = pymupdf.open()
            rc = probe.new_page(width=595, height=842).insert_textbox(
                rect, text, fontsize=size, fontname=fontname
            )
            probe.close()
            if rc >= 0:
                break
            size -= 0.25
            if size < 7:
                raise ValueError(f"{spec['filename']} page {number} does not fit")
        page = pdf.new_page(width=595, height=842)
        if page.insert_textbox(rect, text, fontsize=size, fontname=fontname) < 0:
            raise RuntimeError(f"{spec['filename']} page {number}: text overflow")
        footer = (
            f"示例文档（虚构）　第 {number} 页 / 共 {total} 页"
            if zh
            else (f"SAMPLE DOCUMENT (fictional) - Page {number} of {total}")
        )
        page.insert_text(
            (64, 842 - 40), footer, fontsize=8, fontname=fontname, color=(0.4, 0.4, 0.4)
        )
    pdf.set_metadata(
        {
            "title": spec["title"],
            "author": "kbdesk sample (fictional)",
            "subject": "kbdesk first-run sample document",
            "creator": "kbdesk build/make_samples.py",
            "producer": "PyMuPDF",
        }
    )
    pdf.set_language("zh-CN" if zh else "en-US")
    data = pdf.tobytes(garbage=4, deflate=True, no_new_id=True)
    pdf.close()
    if len(data) > MAX_PDF_BYTES:
        raise RuntimeError(f"{spec['filename']} is {len(data)} bytes (limit {MAX_PDF_BYTES})")
    path.write_bytes(data)
    return path


def make_samples(out_dir: Path | str = DEFAULT_OUT) -> list[Path]:
    """Write the two sample documents into out_dir, the guide beside it; return their paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = [
        _render_pdf(NDA_EN, out / NDA_EN["filename"]),
        _render_pdf(CARE_ZH, out / CARE_ZH["filename"]),
    ]
    welcome = out.parent / "Welcome_to_kbdesk.md"
    welcome.write_text(WELCOME_MD, encoding="utf-8", newline="\n")
    paths.append(welcome)
    return paths


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) > 1:
        print("usage: make_samples.py [OUT_DIR]", file=sys.stderr)
        return 2
    for p in make_samples(args[0] if args else DEFAULT_OUT):
        print(f"{p.stat().st_size:8d}  {p}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
