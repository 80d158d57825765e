"""The file reasons of ``forms.oserrors``, plus what the server's own refusals mean."""
from __future__ import annotations

import errno

from forms import oserrors

_REASONS = {**oserrors.FILE_REASONS,
            errno.EADDRINUSE: "端口已被占用（也许另一个 pingyi serve 正在运行），请先停止它或换一个 --port",
            errno.EADDRNOTAVAIL: "本机没有这个地址，请检查 --host"}


def reason(exc: OSError) -> str:
    return oserrors.reason(exc, _REASONS)
