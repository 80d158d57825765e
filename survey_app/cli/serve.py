"""``pingyi serve``: gunicorn, the server the benchmarks measure, not Flask's development server."""
from __future__ import annotations

import gc
import ipaddress

import click
from flask import current_app
from flask.cli import with_appcontext
from gunicorn.app.base import BaseApplication


class _Server(BaseApplication):
    def __init__(self, app: object, options: dict):
        self.application, self.options = app, options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> object:
        return self.application


def exposure_warning(host: str, proxy_count: int) -> str | None:
    """Phones straight to gunicorn: a few stalled connections hold all its threads (README,
    "Serving a meeting hall"), so a server that listens beyond this machine without nginx in
    front says so when it starts."""
    if proxy_count:
        return None
    try:
        if host == "localhost" or ipaddress.ip_address(host).is_loopback:
            return None
    except ValueError:  # a host name: it may well face the network
        pass
    return ("注意：本服务直接对外监听且未配置反向代理。信号不好的手机连接会占住全部工作线程，"
            "正式测评请在前面部署 nginx（deploy/nginx.conf），并设置 PINGYI_PROXY_COUNT=1。")


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--workers", default=2, show_default=True, type=int)
@click.option("--threads", default=4, show_default=True, type=int)
@with_appcontext
def serve_command(host: str, port: int, workers: int, threads: int) -> None:
    """Serve the site."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    click.echo(f"评议已启动：http://{host}:{port}/  （Ctrl+C 停止）")
    warning = exposure_warning(host, app.config.get("PROXY_COUNT", 0))
    if warning:
        click.echo(warning, err=True)
    gc.collect()
    gc.freeze()  # before the fork: see survey_app.wsgi
    _Server(app, {"bind": f"{host}:{port}", "workers": workers, "threads": threads,
                  "worker_class": "gthread" if threads > 1 else "sync", "accesslog": None,
                  "preload_app": True}).run()


COMMANDS = [serve_command]
