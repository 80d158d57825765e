"""``pingyi serve``: gunicorn's asyncio workers feeding the app whole requests (:mod:`survey_app.asgi`).

Phones on a weak signal, and connections that send nothing, wait in the event loop and hold no
thread of the app: a hall needs no proxy in front to stay responsive (README, "Serving a meeting
hall"). One app thread per worker measured best there: more threads only contend for the GIL.
"""
from __future__ import annotations

import contextvars
import gc
import ipaddress
import signal
import socket

import click
from flask import current_app
from flask.cli import with_appcontext
from gunicorn.app.base import BaseApplication
from gunicorn.arbiter import Arbiter
from gunicorn.workers.gasgi import ASGIWorker
from sqlalchemy import inspect

from survey_app.oserrors import reason
from survey_app.extensions import db
from survey_app.models import Campaign


class _Arbiter(Arbiter):
    def handle_int(self) -> None:
        """Ctrl+C stops as SIGTERM does: the workers finish the ballots still arriving. Gunicorn's
        own SIGINT is a quick exit, which cut off every phone halfway through sending."""
        self.handle_term()


class _Worker(ASGIWorker):
    def init_signals(self) -> None:
        super().init_signals()
        self.loop.add_signal_handler(signal.SIGINT, self.handle_exit_signal)  # a terminal sends it to all


class _Server(BaseApplication):
    def __init__(self, app: object, options: dict):
        self.application, self.options = app, options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> object:
        return self.application

    def run(self) -> None:
        try:
            _Arbiter(self).run()
        except RuntimeError as exc:  # as BaseApplication.run
            click.echo(f"\nError: {exc}\n", err=True)
            raise SystemExit(1) from None


def exposure_warning(host: str, proxy_count: int) -> str | None:
    """Phones straight to this server speak plain HTTP: on a hall's Wi-Fi the codes in the
    addresses and the session cookies travel in the clear. A server that listens beyond this
    machine without a proxy in front says so when it starts."""
    if proxy_count:
        return None
    try:
        if host == "localhost" or ipaddress.ip_address(host).is_loopback:
            return None
    except ValueError:  # a host name: it may well face the network
        pass
    return ("注意：本服务直接对外监听且未配置反向代理，测评码和会话以明文（HTTP）传输。"
            "正式测评请在前面部署带 HTTPS 的 nginx（deploy/nginx.conf），并设置 PINGYI_PROXY_COUNT=1。")


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="监听的地址。")
@click.option("--port", default=5000, show_default=True, type=int, help="监听的端口。")
@click.option("--workers", default=2, show_default=True, type=click.IntRange(1, 64), help="工作进程数。")
@click.option("--threads", default=1, show_default=True, type=int,
              help="每个工作进程的线程数；生成大型 PDF 时占用一个。")
@with_appcontext
def serve_command(host: str, port: int, workers: int, threads: int) -> None:
    """启动网站服务。"""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    try:  # before the warm-up, and instead of gunicorn's five seconds of retries in English
        socket.create_server((host, port), family=socket.AF_INET6 if ":" in host else socket.AF_INET).close()
    except OSError as exc:
        raise click.ClickException(f"无法在 {host}:{port} 上启动：{reason(exc)}") from None
    warning = exposure_warning(host, app.config.get("PROXY_COUNT", 0))
    if warning:
        click.echo(warning, err=True)
    from survey_app.services import casting

    if inspect(db.engine).has_table(Campaign.__tablename__):  # not before `pingyi init`
        casting.warm_up()
    db.session.remove()  # no connection of this process, nor a transaction, may reach the workers
    db.engine.dispose()
    gc.collect()
    gc.freeze()  # before the fork: see survey_app.wsgi
    from survey_app.asgi import WholeRequests

    started = f"评议已启动：http://{host}:{port}/  （Ctrl+C 停止）"  # once it listens
    # No control socket: gunicorn 27 puts every server of a user at one path (~/.gunicorn/gunicorn.ctl),
    # so a second site on the machine took it over, and `gunicornc shutdown` stopped the wrong one.
    server = _Server(WholeRequests(app, threads), {"bind": f"{host}:{port}", "workers": workers,
                                                   "worker_class": _Worker, "accesslog": None, "preload_app": True,
                                                   "control_socket_disable": True,
                                                   "when_ready": lambda _arbiter: click.echo(started)})
    # Outside this command's app context: the workers' event loops would hand it to every request,
    # and Flask would then share one ``g`` (and the CSRF token cached in it) among all of them.
    contextvars.Context().run(server.run)


COMMANDS = [serve_command]
