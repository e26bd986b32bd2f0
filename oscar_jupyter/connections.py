"""How to connect (`connect`), and the clusters open in this process (`clusters`, `current`, `use`).

`connect()` looks for settings in this order and uses the first that applies:

1. ``local=True``: start (or attach to) oscar-local.
2. An explicit `endpoint` (with user/password, token, refresh_token or oidc_account).
3. ``cluster_id=`` / ``config_path=``: that cluster of oscar-cli's config file.
4. ``oidc_account=`` alone: the oscar-cli cluster using that oidc-agent account.
5. ``OSCAR_ENDPOINT`` and the other ``OSCAR_*`` variables (see `auth.ENV_VARS`);
   ``OSCAR_CLUSTER`` alone names a cluster of oscar-cli's config file.
6. The default cluster of ``~/.oscar-cli/config.yaml`` (or ``$OSCAR_CLI_CONFIG``).
7. Nothing configured: oscar-local, started on demand in a per-user data dir
   (``$OSCAR_LOCAL_DATA_DIR``, else ``~/.oscar-local``, the one ``oscar-jupyter
   lab`` uses), attaching to one already running there.
"""
from __future__ import annotations

import logging
import os
import threading
from pathlib import Path
from typing import Any, Dict, Optional, Tuple, Union

from urllib3.util.retry import Retry

from . import errors
from .auth import (BasicAuth, ClusterSettings, Credentials, EGI_CLIENT_ID,
                   EGI_TOKEN_ENDPOINT, RefreshTokenAuth, default_oscar_cli_config,
                   parse_bool, read_oscar_cli_config)
from .cluster import Cluster

logger = logging.getLogger(__name__)

__all__ = ["connect", "clusters", "current", "use", "disconnect", "local_data_dir"]

_registry: Dict[str, Cluster] = {}
_current: Optional[str] = None
_lock = threading.Lock()


def local_data_dir() -> Path:
    """The per-user data dir of the on-demand oscar-local."""
    from .local import default_data_dir

    return Path(default_data_dir())


def _register(cluster: Cluster, make_current: bool = True) -> Cluster:
    global _current
    with _lock:
        key = cluster.id
        if key in _registry and _registry[key] is not cluster:
            n = 2
            while f"{key}-{n}" in _registry:
                n += 1
            key = cluster.id = f"{key}-{n}"
        _registry[key] = cluster
        if make_current or _current is None:
            _current = key
    return cluster


def clusters() -> Dict[str, Cluster]:
    """The open clusters by id."""
    with _lock:
        return dict(_registry)


def current() -> Cluster:
    """The cluster most recently connected or chosen with `use` (connecting when none)."""
    with _lock:
        key = _current
        cluster = _registry.get(key) if key else None
    if cluster is None:
        return connect()
    return cluster


def use(cluster: Union[str, Cluster]) -> Cluster:
    """Make an open cluster (by id or object) the current one."""
    global _current
    with _lock:
        if isinstance(cluster, Cluster):
            if cluster.id not in _registry:
                _registry[cluster.id] = cluster
            _current = cluster.id
            return cluster
        if cluster not in _registry:
            known = ", ".join(sorted(_registry)) or "none"
            raise errors.ConfigError(f"No open cluster {cluster!r} (open: {known}).",
                                     hint="Open it with oj.connect(...) first.")
        _current = cluster
        return _registry[cluster]


def disconnect(cluster: Union[str, Cluster, None] = None) -> None:
    """Close a cluster (default: the current one) and forget it."""
    global _current
    with _lock:
        key = cluster.id if isinstance(cluster, Cluster) else (cluster or _current)
        found = _registry.pop(key, None) if key else None
        if _current == key:
            _current = next(iter(_registry), None)
    if found is not None:
        found.close()


#: the Manager release an oscar-local started on demand answers as: the current one (v4.1 has
#: the exposed services' stop/start/restart and deployment routes). One already running on
#: the data dir is attached as it is.
EMBEDDED_API_VERSION = "4.1"


def _local_cluster(data_dir: Union[str, Path, None], **kwargs: Any) -> Cluster:
    try:
        from . import local
    except ImportError as exc:
        raise errors.ConfigError(f"oscar-local cannot be imported ({exc}).",
                                 hint="Install oscar-jupyter with its dependencies.") from None
    directory = str(Path(data_dir).expanduser()) if data_dir else str(local_data_dir())
    handle = local.ensure(directory, api_version=EMBEDDED_API_VERSION)
    logger.info("Using oscar-local at %s (data dir %s).", handle.endpoint, directory)
    return Cluster(handle.endpoint, BasicAuth(handle.user, handle.password), ssl_verify=True,
                   id="local", local=handle, **kwargs)


def connect(endpoint: Optional[str] = None, *, user: Optional[str] = None,
            password: Optional[str] = None, token: Optional[str] = None,
            refresh_token: Optional[str] = None, token_endpoint: Optional[str] = None,
            client_id: Optional[str] = None, client_secret: Optional[str] = None,
            oidc_account: Optional[str] = None, cluster_id: Optional[str] = None,
            config_path: Union[str, Path, None] = None, ssl_verify: Any = None,
            timeout: Union[float, Tuple[float, float], None] = None,
            retry: Union[Retry, int, None] = None, run_retry: Union[Retry, int, None] = None,
            run_timeout: Optional[float] = None, local: bool = False, data_dir: Union[str, Path, None] = None,
            id: Optional[str] = None, check: bool = True) -> Cluster:
    """Open a cluster and make it the current one (see the module docstring for the order).

    `ssl_verify` accepts booleans and strings ('false', '0' ... are False).
    `timeout` is seconds or (connect, read) for Manager calls; `run_timeout` the
    seconds `/run` may take (default 310; `run(timeout=)` per call); `retry`/`run_retry` a urllib3
    `Retry` (or a number of tries) for Manager calls / for `/run`. With `check`,
    `/system/info` is called once so wrong credentials fail here (`AuthError`).
    """
    common: Dict[str, Any] = dict(timeout=timeout, retry=retry, run_retry=run_retry,
                                  run_timeout=run_timeout)
    if local:
        cluster = _local_cluster(data_dir, **common)
        return _register(_checked(cluster, check))
    settings: Optional[ClusterSettings] = None
    if endpoint:
        settings = ClusterSettings(endpoint=endpoint, user=user, password=password, token=token,
                                   refresh_token=refresh_token, token_endpoint=token_endpoint,
                                   client_id=client_id, oidc_account=oidc_account,
                                   cluster_id=id or cluster_id)
        if not (password or token or refresh_token or oidc_account):
            env = ClusterSettings.from_environment()
            if env is not None and env.endpoint.rstrip("/") == endpoint.rstrip("/"):
                settings = env  # the same cluster: take its credentials from the environment
    elif cluster_id or config_path:
        settings = _from_config(cluster_id, config_path)
    elif oidc_account:
        settings = _by_oidc_account(oidc_account)
    else:
        settings = ClusterSettings.from_environment()
        if settings is not None and settings.cluster_id and not settings.password and not \
                settings.token and not settings.refresh_token and not settings.oidc_account:
            settings = _from_config(settings.cluster_id, None)
        if settings is None and os.environ.get("OSCAR_CLUSTER"):
            settings = _from_config(os.environ["OSCAR_CLUSTER"], None)
        if settings is None:
            path = default_oscar_cli_config()
            if path.is_file():
                settings = _from_config(None, path)
    if settings is None and (user or password or token or refresh_token):
        raise errors.ConfigError("Credentials were given but no endpoint.",
                                 hint="Pass the cluster URL as the first argument (or OSCAR_ENDPOINT).")
    if settings is None:
        cluster = _local_cluster(data_dir, **common)
        return _register(_checked(cluster, check))
    if settings.refresh_token and not settings.token:
        credentials: Credentials = RefreshTokenAuth(
            settings.refresh_token, token_endpoint=token_endpoint or settings.token_endpoint
            or EGI_TOKEN_ENDPOINT, client_id=client_id or settings.client_id or EGI_CLIENT_ID,
            client_secret=client_secret)
    else:
        credentials = settings.credentials()
    verify = settings.ssl_verify if ssl_verify is None else parse_bool(ssl_verify)
    cluster = Cluster(settings.endpoint, credentials, ssl_verify=verify,
                      id=id or settings.cluster_id, **common)
    logger.info("Connecting to %s (%s, from %s).", cluster.endpoint, credentials.describe(), settings.source)
    return _register(_checked(cluster, check))


def _checked(cluster: Cluster, check: bool) -> Cluster:
    if check:
        info = cluster.info()
        logger.info("Connected to %s: OSCAR %s.", cluster.endpoint, info.get("version", "?"))
    return cluster


def _from_config(cluster_id: Optional[str], path: Union[str, Path, None]) -> ClusterSettings:
    entries, default = read_oscar_cli_config(path)
    chosen = cluster_id or default
    where = str(Path(path).expanduser()) if path else str(default_oscar_cli_config())
    if not chosen:
        if len(entries) == 1:
            chosen = next(iter(entries))
        else:
            raise errors.ConfigError(f"{where} has no default cluster.",
                                     hint=f"Pass cluster_id= (one of: {', '.join(entries)}).")
    if chosen not in entries:
        raise errors.ConfigError(f"No cluster {chosen!r} in {where}.",
                                 hint=f"Known: {', '.join(entries) or 'none'}.")
    return entries[chosen]


def _by_oidc_account(account: str) -> ClusterSettings:
    env = ClusterSettings.from_environment()
    if env is not None:
        env.oidc_account = account
        env.password = env.token = env.refresh_token = None
        return env
    path = default_oscar_cli_config()
    if path.is_file():
        entries, _ = read_oscar_cli_config(path)
        for settings in entries.values():
            if settings.oidc_account == account:
                return settings
    raise errors.ConfigError(f"No endpoint for oidc-agent account {account!r}.",
                             hint="Pass the cluster URL too: oj.connect(url, oidc_account=...).")
