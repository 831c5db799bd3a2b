"""The hub's settings: hub.yaml, rendered by the jupyterhub role from one dictionary (jupyterhub_settings).

The file is required and complete: the role always writes every key, so a missing file or key is an error
that names it, never a silent default (each default lives in the role's defaults/main.yml, once).
"""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping
from importlib import import_module
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import yaml

DEFAULT_PATH = "/etc/jupyterhub/hub.yaml"
TEMPLATES = str(Path(__file__).parent / "templates")  # our pages, before JupyterHub's own


class SettingsError(RuntimeError):
    """hub.yaml is missing, unreadable or lacks a key: the hub must not start on made-up values."""


class Settings(dict[str, Any]):
    """A section of hub.yaml: `settings["key"]` of a key the file lacks raises SettingsError naming it."""

    def __init__(self, values: Mapping[str, Any], source: str, where: str = "") -> None:
        super().__init__(
            (key, Settings(value, source, f"{where}{key}.") if isinstance(value, Mapping) else value)
            for key, value in values.items()
        )
        self.source, self.where = source, where

    def __missing__(self, key: str) -> Any:
        raise SettingsError(f"{self.source}: no setting '{self.where}{key}': render it with the jupyterhub role")


def load(path: str | Path) -> Settings:
    """The settings in `path` (a YAML mapping); SettingsError naming the file when it is missing or not one."""
    source = str(path)
    try:
        values = yaml.safe_load(Path(path).read_text())
    except FileNotFoundError:
        raise SettingsError(
            f"{source}: not found. The hub does not start without its settings: the jupyterhub role renders "
            f"them (HUB_SETTINGS names another file)"
        ) from None
    except (OSError, yaml.YAMLError) as err:
        raise SettingsError(f"{source}: cannot be read: {err}") from None
    if not isinstance(values, Mapping):
        raise SettingsError(f"{source}: must be a mapping of settings, not {type(values).__name__}")
    return Settings(values, source)


# What the hub and its libraries read from the environment that is a secret: each may be given as a file instead,
# VAR_FILE (never in hub.yaml, `docker inspect` or `systemctl show`). JupyterHub reads the proxy's token, the
# cookie secret and the crypt key after this file; PGPASSWORD is libpq's.
SECRET_VARIABLES = ("CONFIGPROXY_AUTH_TOKEN", "JPY_COOKIE_SECRET", "JUPYTERHUB_CRYPT_KEY", "HPCHUB_SERVICE_TOKEN",
                    "HPCHUB_METRICS_TOKEN", "PGPASSWORD")  # fmt: skip


def secrets_from_files(environ: MutableMapping[str, str]) -> None:
    """environ[VAR] = the text of the file environ["VAR_FILE"] names, for each secret variable given as a file
    (the hub's container: copies its entrypoint made for the hub's user; its systemd service: the role's files);
    SettingsError naming the variable when the file cannot be read."""
    for name in SECRET_VARIABLES:
        path = environ.pop(f"{name}_FILE", "")
        if not path:
            continue
        try:
            environ[name] = Path(path).read_text().rstrip("\n")
        except OSError as err:
            raise SettingsError(f"{name}_FILE ({path}): cannot be read: {err.strerror}") from None


def authenticator_class(name: str) -> type:
    """The class JupyterHub would load for `authenticator_class`: an entry point name (pam, ldapauthenticator,
    ...) of group jupyterhub.authenticators, or a dotted import path."""
    found = entry_points(group="jupyterhub.authenticators", name=name)
    if found:
        return next(iter(found)).load()  # type: ignore[no-any-return]
    module, _, attribute = name.rpartition(".")
    if not module:
        known = sorted(point.name for point in entry_points(group="jupyterhub.authenticators"))
        raise SettingsError(f"authenticator class '{name}': not an installed authenticator ({', '.join(known)})")
    try:
        return getattr(import_module(module), attribute)  # type: ignore[no-any-return]
    except (ImportError, AttributeError) as err:
        raise SettingsError(f"authenticator class '{name}': cannot be imported: {err}") from None


def plain(value: Any) -> Any:
    """A setting as YAML gave it: Settings sections back into plain dicts (a trait's value is the site's)."""
    if isinstance(value, Mapping):
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [plain(item) for item in value]
    return value


def apply_traits(config: Any, traits: Mapping[str, Mapping[str, Any]]) -> None:
    """c[ClassName][trait] = value for {ClassName: {trait: value}}: the site's traits, straight through."""
    for class_name, values in traits.items():
        if not isinstance(values, Mapping):
            raise SettingsError(f"config.{class_name}: must map trait names to values, not {type(values).__name__}")
        for trait, value in values.items():
            config[class_name][trait] = plain(value)


def apply_authenticator(config: Any, settings: Mapping[str, Any]) -> type:
    """Set JupyterHub's authenticator class and its traits, c[ClassName][trait] = value, from
    settings {'class': name, 'config': {trait: value}}."""
    cls = authenticator_class(settings["class"])
    config.JupyterHub.authenticator_class = cls
    apply_traits(config, {cls.__name__: settings["config"]})
    return cls


MFA_PAM_SERVICE = "jupyterhub-mfa"  # images/hub/pam-jupyterhub-mfa: password, then the one-time code


def apply_mfa(config: Any, settings: Mapping[str, Any], authenticator: type) -> None:
    """A second factor (settings {'enabled', 'token_max_seconds'}): JupyterHub's own one-time-code field
    (request_otp), checked by the hub image's PAM service, and API tokens that expire. PAM only: another
    authenticator has its own way, and MFA asked of it is an error rather than a login without a second factor."""
    enabled = settings["enabled"]
    if not isinstance(enabled, bool):  # the string "false" would turn it on
        raise SettingsError(f"mfa.enabled: must be true or false, not {enabled!r}")
    if not enabled:
        return
    from jupyterhub.auth import PAMAuthenticator

    if not issubclass(authenticator, PAMAuthenticator):
        raise SettingsError(
            f"mfa: the one-time code is checked by PAM, and the authenticator is {authenticator.__name__}: "
            "set jupyterhub_authenticator_class to pam, or jupyterhub_mfa to false"
        )
    config[authenticator.__name__].request_otp = True
    config[authenticator.__name__].otp_prompt = "One-time code:"
    config[authenticator.__name__].service = MFA_PAM_SERVICE
    config.JupyterHub.token_expires_in_max_seconds = int(settings["token_max_seconds"])


def site_config_files(folder: str) -> list[Path]:
    """The site's own *.py files in `folder`, in the order they are loaded (sorted by name); none for ''."""
    return sorted(Path(folder).glob("*.py")) if folder else []
