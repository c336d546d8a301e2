"""llama.cpp's own messages (loading, adapters, warnings) routed to kbdesk's log, never the terminal."""

from __future__ import annotations

import ctypes
import logging

log = logging.getLogger("kbdesk.llama")

# ggml_log_level as this llama.cpp numbers it: NONE 0, DEBUG 1, INFO 2, WARN 3, ERROR 4, CONT 5
# (the rest of the previous message). llama-cpp-python's own callback still reads the older
# numbering, so it printed every warning as an error. Warnings and errors are kept at INFO: the
# log file keeps them, while the terminal (WARNING and up) stays for kbdesk's own sentences, which
# say what went wrong and what to do.
LEVELS = {3: logging.INFO, 4: logging.INFO}
_callback = None  # kept referenced: llama.cpp calls it for as long as the process lives


def route_to_log(llama_cpp) -> None:
    """Replaces llama-cpp-python's callback, which prints to stderr (attaching an adapter printed
    "cannot use buft CPU_REPACK" once per tensor), with one that writes to kbdesk's log."""
    global _callback
    if _callback is not None:
        return

    @llama_cpp.llama_log_callback
    def on_message(level: int, text: bytes, user_data: ctypes.c_void_p) -> None:
        message = text.decode("utf-8", "replace").rstrip()
        if message:
            log.log(LEVELS.get(level, logging.DEBUG), "%s", message)

    _callback = on_message
    # llama_log_set hands the same callback to ggml, the tensor library under llama.cpp, in the
    # copy of it that libllama loaded (a wheel's other copies are never the one running).
    llama_cpp.llama_log_set(on_message, ctypes.c_void_p(0))
