"""A desktop in the browser (issue 32, part 6): the launcher's "Desktop" (jupyter-remote-desktop-proxy 3, in the
notebook lock) starts TigerVNC with an Xfce session (Debian's, notebook_env_desktop_packages) on the server's compute
node, as the user, on a Unix socket only the user can open, with no TCP port; noVNC shows it at /user/NAME/desktop/
through the proxy. It ends with the server. Screenshot: test-artifacts/desktop.png (docs/images/desktop.png)."""

from __future__ import annotations

from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from tests.support.browser import log_in, screenshot
from tests.support.docker import on
from tests.support.hubclient import HUB, json_of
from tests.support.infra import hosts_of
from tests.support.waiting import wait_for

USER = "erin"
DESKTOP = ("Xtigervnc", "xfce4-session", "xfce4-terminal")  # the terminal: the one the test opens
# 400 pixels of noVNC's canvas, in a grid: Xfce's panel and desktop drawn show several colours, not one blank one.
PIXELS = """
const canvas = document.querySelector('#screen canvas');
if (!canvas || !canvas.width) return [];
const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
const seen = [];
for (let i = 0; i < 400; i++) {
  const x = Math.floor((i % 20 + 0.5) * canvas.width / 20);
  const y = Math.floor((Math.floor(i / 20) + 0.5) * canvas.height / 20);
  const at = 4 * (y * canvas.width + x);
  seen.push(`${data[at]},${data[at + 1]},${data[at + 2]}`);
}
return seen;
"""


def desktop_of(node: str) -> dict[str, str]:
    """The user's desktop processes on the node (and the terminal the test opens): command name -> arguments."""
    out = on(node, f"ps -u {USER} -o comm=,args=").stdout
    rows = [line.split(None, 1) for line in out.splitlines() if line.strip()]
    return {row[0]: row[1] if len(row) > 1 else "" for row in rows if row[0] in DESKTOP}


def tcp_listeners(node: str, uid: str) -> set[str]:
    """The TCP sockets a user listens on in the node (/proc/net/tcp and tcp6: state 0A is LISTEN)."""
    out = on(node, "cat /proc/net/tcp /proc/net/tcp6").stdout
    rows = [line.split() for line in out.splitlines()[1:] if line.strip() and not line.lstrip().startswith("sl")]
    return {row[1] for row in rows if len(row) > 7 and row[3] == "0A" and row[7] == uid}


def test_the_desktop_runs_on_the_servers_node_as_the_user_and_ends_with_the_server(session_of, browser):
    session = session_of(USER)
    reply = session.api("POST", f"/users/{USER}/server", json={"user_options": {}})
    assert reply.status_code in (201, 202), reply.text[:300]
    session.wait_ready(120)
    node = on("slurmctld", f"squeue --noheader --user={USER} --name=jupyter-{USER} --format=%N").stdout.strip()
    assert node in set(hosts_of("compute")), node
    # The launcher's item, as jupyter-server-proxy lists it for JupyterLab.
    servers = json_of(session.server_get("server-proxy/servers-info"))["server_processes"]
    desktop = next(server for server in servers if server["name"] == "desktop-websockify")
    assert desktop["launcher_entry"]["title"] == "Desktop" and desktop["launcher_entry"]["path_info"] == "desktop"
    uid = on(node, f"id -u {USER}").stdout.strip()
    before = tcp_listeners(node, uid)  # the server's own port
    assert before and not desktop_of(node)  # the desktop starts when it is first opened

    log_in(browser, USER, start=f"{HUB}/hub/login?next=/user/{USER}/desktop/")
    wait = WebDriverWait(browser, 90, poll_frequency=0.5)
    wait.until(lambda b: b.find_element(By.ID, "status").text == "Connected")
    wait.until(lambda b: len(set(b.execute_script(PIXELS))) >= 4)

    running = desktop_of(node)
    assert set(running) == {"Xtigervnc", "xfce4-session"}, running
    assert "-rfbport -1" in running["Xtigervnc"] and "-rfbunixpath" in running["Xtigervnc"], running
    assert tcp_listeners(node, uid) == before  # no TCP port: the Unix socket alone
    socket = running["Xtigervnc"].split("-rfbunixpath ")[1].split()[0]
    assert on(node, f"stat -c '%U %a' {socket}").stdout.split() == [USER, "600"]

    # A terminal on the desktop, as the user guide shows it: where it runs, as whom, in which job.
    display = next(arg for arg in running["Xtigervnc"].split() if arg.startswith(":"))
    drawn = browser.execute_script(PIXELS)
    shown = "hostname; id -un; squeue --me --format='%i %j %P %N'; exec bash"
    started = on(node, f"cd && DISPLAY={display} setsid -f xfce4-terminal --disable-server --geometry=72x14+40+120 "
                       f"-x sh -c \"{shown}\"", user=USER)  # fmt: skip
    assert started.returncode == 0, started.stderr
    wait.until(lambda b: b.execute_script(PIXELS) != drawn)
    last: list[list[str]] = [[]]  # then drawn to the end: two samples a poll apart alike
    wait.until(lambda b: last.append(b.execute_script(PIXELS)) or last[-1] == last[-2])
    screenshot(browser, "desktop.png")

    session.stop()
    wait_for("the desktop ended with the server", lambda: not desktop_of(node), 30, 0.5)
