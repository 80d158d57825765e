"""What the system's refusals to read or write a file mean, in the words of the people who run pingyi.

It lives in the lowest layer because every layer reads or writes files a person names: the
definitions here, the tables of analysis, the exports and slips of the site.
"""
from __future__ import annotations

import errno

FILE_REASONS = {errno.ENOENT: "文件或文件夹不存在", errno.EACCES: "没有权限", errno.EPERM: "没有权限",
                errno.ENOSPC: "磁盘空间不足", errno.ENOTDIR: "路径中有一段不是文件夹", errno.EISDIR: "这是一个文件夹",
                errno.EROFS: "只读的文件系统", errno.EEXIST: "已经存在"}


def reason(exc: OSError, reasons: dict[int, str] = FILE_REASONS) -> str:
    return reasons.get(exc.errno, exc.strerror or str(exc)) if exc.errno is not None else str(exc)
