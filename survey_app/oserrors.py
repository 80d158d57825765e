"""What the system's refusals mean, in the words of the people who run pingyi."""
from __future__ import annotations

import errno

_REASONS = {errno.ENOENT: "文件或文件夹不存在", errno.EACCES: "没有权限", errno.EPERM: "没有权限",
            errno.ENOSPC: "磁盘空间不足", errno.ENOTDIR: "路径中有一段不是文件夹", errno.EISDIR: "这是一个文件夹",
            errno.EROFS: "只读的文件系统", errno.EEXIST: "已经存在",
            errno.EADDRINUSE: "端口已被占用（也许另一个 pingyi serve 正在运行），请先停止它或换一个 --port",
            errno.EADDRNOTAVAIL: "本机没有这个地址，请检查 --host"}


def reason(exc: OSError) -> str:
    return _REASONS.get(exc.errno, exc.strerror or str(exc)) if exc.errno is not None else str(exc)
