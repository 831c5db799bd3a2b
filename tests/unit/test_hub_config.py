"""hub_config/jupyterhub_config.py on the hub.yaml the jupyterhub role renders: loaded the way JupyterHub loads
it (traitlets' PyFileConfigLoader), with the file rendered by the role's own settings task.

The settings come from the inventory, once: the hub refuses a missing file or key, naming it, instead of
starting on made-up values; the authenticator and its traits, and the site's jupyterhub_config.d, are the
inventory's.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import yaml
from hpchub.hub_settings import SettingsError, secrets_from_files
from jupyterhub.apihandlers import default_handlers
from traitlets.config.loader import PyFileConfigLoader

from tests.support.hub_settings import render_hub_yaml

ROOT = Path(__file__).resolve().parents[2]

VARIANTS = {
    "local": {},
    # Any trait from the inventory, with no Python of ours per trait (zero-to-jupyterhub's hub.config).
    "traits": {
        "jupyterhub_hub_config": {
            "Spawner": {"http_timeout": 77},
            "HpcSlurmSpawner": {"poll_interval": 25, "environment": {"SITE_VARIABLE": "1"}},
            "JupyterHub": {"shutdown_on_logout": True},
            "WatchedProxy": {"route_check_interval": 0.5},
        }
    },
    "mfa": {"jupyterhub_mfa": True, "jupyterhub_mfa_token_max_seconds": 86400},
    # The hub on its own host without Docker: systemd services on the host's network.
    "service": {"jupyterhub_runtime": "systemd"},
    "production": {
        "jupyterhub_network": "host",
        "jupyterhub_hub_port": 8181,
        "jupyterhub_proxy_api_port": 8101,
        "jupyterhub_idle_timeout": 0,
        "jupyterhub_db_url": "postgresql://hub@db.invalid/jupyterhub",
        "jupyterhub_admin_users": ["bob", "alice"],
        "jupyterhub_authenticator_class": "dummy",
        "jupyterhub_authenticator_config": {"password": "not-a-secret", "allowed_users": ["alice"]},
        "jupyterhub_jupyter_prefix": "/global/common/software/jupyter",
    },
}


@pytest.fixture(scope="module")
def rendered(tmp_path_factory) -> dict[str, Path]:
    folders = {name: tmp_path_factory.mktemp(name) for name in VARIANTS}
    with ThreadPoolExecutor(max_workers=2) as pool:
        files = pool.map(lambda name: render_hub_yaml(folders[name], **VARIANTS[name]), VARIANTS)
        return dict(zip(VARIANTS, files, strict=True))


@pytest.fixture(autouse=True)
def api_routes() -> Iterator[None]:
    """JupyterHub's API routes as they were: the config installs the port report's in place."""
    saved = list(default_handlers)
    yield
    default_handlers[:] = saved


def load(settings: Path, monkeypatch):
    """The configuration as the hub loads it, its audit trail beside `settings` (the rendered path is the hub
    host's: /var/log/..., which a test must not write)."""
    values = yaml.safe_load(settings.read_text()) if settings.exists() else None
    if isinstance(values, dict) and isinstance(values.get("audit"), dict):  # not the tests of broken files
        values["audit"]["path"] = str(settings.with_name("audit.jsonl"))
        settings.write_text(yaml.safe_dump(values))
    monkeypatch.setenv("HUB_SETTINGS", str(settings))
    monkeypatch.delenv("HPCHUB_SERVICE_TOKEN", raising=False)
    return PyFileConfigLoader("jupyterhub_config.py", path=str(ROOT / "hub_config")).load_config()


def edited(settings: Path, tmp_path: Path, edit) -> Path:
    values = yaml.safe_load(settings.read_text())
    edit(values)
    path = tmp_path / "hub.yaml"
    path.write_text(yaml.safe_dump(values))
    return path


def test_the_local_cluster_keeps_its_addresses_and_settings(rendered, monkeypatch):
    c = load(rendered["local"], monkeypatch)
    assert c.JupyterHub.hub_connect_url == "http://hub:8081"
    assert c.JupyterHub.hub_bind_url == "http://0.0.0.0:8081"
    assert c.ConfigurableHTTPProxy.api_url == "http://proxy:8001"
    assert c.JupyterHub.authenticator_class.__name__ == "DirectoryPAMAuthenticator"
    assert set(c.DirectoryPAMAuthenticator.allowed_groups) == {"hpcusers"}
    assert c.DirectoryPAMAuthenticator.directory_uri == "ldap://ldap"  # the local cluster's accounts_ldap_uri
    assert c.HpcSlurmSpawner.cluster_name == "hpclocal"
    assert c.HpcSlurmSpawner.default_partition == "debug"
    assert c.HpcSlurmSpawner.cmd == ["/opt/jupyter/bin/jupyterhub-singleuser"]
    # Traits the inventory does not set keep our classes' defaults: none is restated here.
    assert "poll_interval" not in c.HpcSlurmSpawner and "route_check_interval" not in c.WatchedProxy
    # The role's idle timeout (3600) is the hub's: the Python no longer has one of its own.
    culler = next(s for s in c.JupyterHub.services if s["name"] == "idle-culler")
    assert "--timeout=3600" in culler["command"]


def test_as_a_service_the_hub_is_on_its_hosts_network_and_reads_the_sites_files_in_place(rendered, monkeypatch):
    c = load(rendered["service"], monkeypatch)
    # The compute nodes call the hub at its host's name; the proxy and the hub meet on the host.
    assert c.JupyterHub.hub_connect_url == "http://localhost:8081"  # inventory_hostname of the rendering play
    assert c.ConfigurableHTTPProxy.api_url == "http://127.0.0.1:8001"
    settings = yaml.safe_load(rendered["service"].read_text())
    # Read in place in jupyterhub_runtime_dir (the local inventory's is under its secrets/): no container mounts it.
    assert settings["config_d"].endswith("/secrets/runtime/jupyterhub_config.d"), settings["config_d"]
    assert yaml.safe_load(rendered["local"].read_text())["config_d"] == "/etc/jupyterhub/jupyterhub_config.d"


def test_secrets_given_as_files_reach_the_hub_as_its_variables(tmp_path):
    (tmp_path / "proxy-token").write_text("a1b2\n")
    (tmp_path / "crypt-key").write_text("c3d4")
    environ = {"CONFIGPROXY_AUTH_TOKEN_FILE": str(tmp_path / "proxy-token"),
               "JUPYTERHUB_CRYPT_KEY_FILE": str(tmp_path / "crypt-key"), "PATH": "/usr/bin"}  # fmt: skip
    secrets_from_files(environ)
    assert environ == {"CONFIGPROXY_AUTH_TOKEN": "a1b2", "JUPYTERHUB_CRYPT_KEY": "c3d4", "PATH": "/usr/bin"}


def test_a_secret_file_that_cannot_be_read_stops_the_hub_naming_its_variable(tmp_path):
    with pytest.raises(SettingsError, match=r"JPY_COOKIE_SECRET_FILE \(.*cookie-secret\): cannot be read"):
        secrets_from_files({"JPY_COOKIE_SECRET_FILE": str(tmp_path / "cookie-secret")})


def test_a_hub_trait_set_in_the_inventory_reaches_the_hub(rendered, monkeypatch):
    c = load(rendered["traits"], monkeypatch)
    assert c.Spawner.http_timeout == 77 and c.HpcSlurmSpawner.poll_interval == 25
    assert c.HpcSlurmSpawner.environment == {"SITE_VARIABLE": "1"} and type(c.HpcSlurmSpawner.environment) is dict
    assert c.JupyterHub.shutdown_on_logout is True and c.WatchedProxy.route_check_interval == 0.5
    assert c.HpcSlurmSpawner.cluster_name == "hpclocal"  # the site's facts as before


def test_our_classes_hold_their_own_defaults():
    from hpchub.proxy_watch import WatchedProxy
    from hpchub.spawner import HpcSlurmSpawner

    traits = HpcSlurmSpawner.class_traits()
    defaults = {name: traits[name].default_value for name in ("poll_interval", "http_timeout", "start_timeout",
                                                             "startup_poll_interval", "limits_ttl")}  # fmt: skip
    assert defaults == {"poll_interval": 10, "http_timeout": 120, "start_timeout": 300,
                        "startup_poll_interval": 0.2, "limits_ttl": 60}  # fmt: skip
    assert WatchedProxy.class_traits()["route_check_interval"].default_value == 2


def test_traits_that_are_not_a_mapping_per_class_are_refused(rendered, tmp_path, monkeypatch):
    settings = edited(rendered["local"], tmp_path, lambda v: v.update(config={"HpcSlurmSpawner": 10}))
    with pytest.raises(SettingsError, match=r"config\.HpcSlurmSpawner: must map trait names to values, not int"):
        load(settings, monkeypatch)


def test_jupyterhubs_own_defaults_are_not_restated(rendered, monkeypatch):
    c = load(rendered["local"], monkeypatch)
    assert "bind_url" not in c.JupyterHub  # http://:8000
    assert "db_url" not in c.JupyterHub  # SQLite in the working directory, the state volume
    assert "exec_prefix" not in c.HpcSlurmSpawner  # sudo -E -u {username}
    assert "open_sessions" not in c.PAMAuthenticator  # False


def test_a_production_inventory_sets_addresses_authenticator_and_prefix(rendered, monkeypatch):
    c = load(rendered["production"], monkeypatch)
    assert c.JupyterHub.hub_connect_url == "http://localhost:8181"  # the hub host's inventory name
    assert c.JupyterHub.hub_bind_url == "http://0.0.0.0:8181"
    assert c.ConfigurableHTTPProxy.api_url == "http://127.0.0.1:8101"  # both on the host's network
    assert c.JupyterHub.db_url == "postgresql://hub@db.invalid/jupyterhub"
    assert c.JupyterHub.authenticator_class.__name__ == "DummyAuthenticator"
    assert c.DummyAuthenticator.password == "not-a-secret"
    assert c.DummyAuthenticator.allowed_users == ["alice"]
    assert "PAMAuthenticator" not in c
    assert c.HpcSlurmSpawner.batchspawner_singleuser_cmd == (
        "/global/common/software/jupyter/bin/python3 /global/common/software/jupyter/bin/hpchub-singleuser"
    )
    assert c.JupyterHub.load_roles[0] == {"name": "admin", "users": ["alice", "bob"]}
    assert [s["name"] for s in c.JupyterHub.services] == []  # idle timeout 0: no culler


def test_the_hub_refuses_to_start_without_hub_yaml(tmp_path, monkeypatch):
    missing = tmp_path / "hub.yaml"
    with pytest.raises(SettingsError, match=f"{missing}: not found. The hub does not start without its settings"):
        load(missing, monkeypatch)


@pytest.mark.parametrize(
    ("drop", "named"),
    [
        (lambda v: v.pop("hub_connect_url"), "no setting 'hub_connect_url'"),
        (lambda v: v["spawner"].pop("default_partition"), "no setting 'spawner.default_partition'"),
        (lambda v: v["authenticator"].pop("config"), "no setting 'authenticator.config'"),
    ],
    ids=["hub_connect_url", "spawner.default_partition", "authenticator.config"],
)
def test_a_missing_key_is_an_error_naming_it(rendered, tmp_path, monkeypatch, drop, named):
    settings = edited(rendered["local"], tmp_path, drop)
    with pytest.raises(SettingsError, match=f"{settings}: {named}"):
        load(settings, monkeypatch)


def test_a_file_that_is_not_a_mapping_is_refused(tmp_path, monkeypatch):
    settings = tmp_path / "hub.yaml"
    settings.write_text("- just\n- a list\n")
    with pytest.raises(SettingsError, match="must be a mapping of settings, not list"):
        load(settings, monkeypatch)


def test_mfa_asks_pam_for_a_one_time_code_and_caps_tokens(rendered, monkeypatch):
    c = load(rendered["mfa"], monkeypatch)
    mfa = c.DirectoryPAMAuthenticator
    assert (mfa.request_otp, mfa.service, mfa.otp_prompt) == (True, "jupyterhub-mfa", "One-time code:")
    assert c.JupyterHub.token_expires_in_max_seconds == 86400
    # The image's PAM service of that name asks for the password, then the code (pam_oath).
    service = (ROOT / "images/hub/pam-jupyterhub-mfa").read_text()
    auth = [re.findall(r"pam_\w+\.so", line)[0] for line in service.splitlines() if line.startswith("auth")]
    assert auth.index("pam_unix.so") < auth.index("pam_oath.so") and auth[0] == "pam_faillock.so"


def test_without_mfa_the_login_is_pams_own_and_tokens_are_not_capped(rendered, monkeypatch):
    c = load(rendered["local"], monkeypatch)
    assert "request_otp" not in c.DirectoryPAMAuthenticator and "service" not in c.DirectoryPAMAuthenticator
    assert "token_expires_in_max_seconds" not in c.JupyterHub


def test_mfa_from_a_command_lines_string_is_a_bool(tmp_path):
    # ansible-playbook -e jupyterhub_mfa=false gives the string "false": hub.yaml must still say false.
    c_yaml = yaml.safe_load(render_hub_yaml(tmp_path, jupyterhub_mfa="false").read_text())
    assert c_yaml["mfa"]["enabled"] is False


def test_mfa_enabled_as_anything_but_a_bool_stops_the_hub(rendered, tmp_path, monkeypatch):
    def string(values):
        values["mfa"]["enabled"] = "false"

    with pytest.raises(SettingsError, match=r"mfa\.enabled: must be true or false, not 'false'"):
        load(edited(rendered["local"], tmp_path, string), monkeypatch)


def test_mfa_with_an_authenticator_other_than_pam_stops_the_hub(rendered, tmp_path, monkeypatch):
    def dummy(values):
        values["authenticator"] = {"class": "dummy", "config": {}}

    with pytest.raises(SettingsError, match="mfa: the one-time code is checked by PAM, and the authenticator is Dummy"):
        load(edited(rendered["mfa"], tmp_path, dummy), monkeypatch)


def test_an_unknown_authenticator_is_named(rendered, tmp_path, monkeypatch):
    def unknown(values):
        values["authenticator"]["class"] = "nosuchauth"

    with pytest.raises(SettingsError, match="authenticator class 'nosuchauth': not an installed authenticator"):
        load(edited(rendered["local"], tmp_path, unknown), monkeypatch)


def test_an_authenticator_by_its_class_path(rendered, tmp_path, monkeypatch):
    def by_path(values):
        values["authenticator"] = {"class": "jupyterhub.auth.DummyAuthenticator", "config": {"password": "p"}}

    c = load(edited(rendered["local"], tmp_path, by_path), monkeypatch)
    assert (c.JupyterHub.authenticator_class.__name__, c.DummyAuthenticator.password) == ("DummyAuthenticator", "p")

    def no_such_class(values):
        values["authenticator"]["class"] = "jupyterhub.auth.NoSuch"

    with pytest.raises(SettingsError, match=r"'jupyterhub\.auth\.NoSuch': cannot be imported"):
        load(edited(rendered["local"], tmp_path, no_such_class), monkeypatch)


def test_the_sites_config_files_load_after_ours_in_sorted_order(rendered, tmp_path, monkeypatch):
    site = tmp_path / "jupyterhub_config.d"
    site.mkdir()
    (site / "20-later.py").write_text("c.JupyterHub.admin_access = False\nc.HpcSlurmSpawner.poll_interval = 20\n")
    (site / "10-first.py").write_text("c.JupyterHub.admin_access = True\nc.HpcSlurmSpawner.poll_interval = 15\n"
                                      "c.PAMAuthenticator.allowed_groups = {'site-group'}\n")  # fmt: skip
    (site / "notes.txt").write_text("c.JupyterHub.admin_access = 'not python'\n")

    def site_folder_and_traits(values):
        values.update(config_d=str(site), config={"HpcSlurmSpawner": {"poll_interval": 15}})

    c = load(edited(rendered["local"], tmp_path, site_folder_and_traits), monkeypatch)
    assert c.JupyterHub.admin_access is False  # 20-later.py last
    assert c.HpcSlurmSpawner.poll_interval == 20  # over the inventory's (15)
    assert c.PAMAuthenticator.allowed_groups == {"site-group"}
    assert c.HpcSlurmSpawner.default_url == "/lab"  # what the site leaves alone stays ours


def test_an_empty_site_folder_loads_nothing(rendered, monkeypatch):
    c = load(rendered["local"], monkeypatch)  # config_d names the container's folder: absent here
    assert "poll_interval" not in c.HpcSlurmSpawner and "admin_access" not in c.JupyterHub
