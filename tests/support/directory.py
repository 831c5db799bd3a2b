"""The local cluster's directory (host `ldap`, group directory) as its administrator: what a centre's
engineer does with ldapadd, ldapmodify and ldapdelete, and reading an entry."""

from __future__ import annotations

import subprocess

from tests.support.docker import ROOT, on

HOST = "ldap"
BASE = "dc=hpc,dc=local"  # directory_base_dn of inventories/local
ADMIN = f"cn=admin,{BASE}"
PASSWORD_FILE = ROOT / "inventories/local/secrets/directory-admin.password"


def as_admin(tool: str, *args: str, ldif: str | None = None) -> subprocess.CompletedProcess[str]:
    """`tool` (ldapsearch, ldapadd, ldapmodify, ldapdelete) on the directory's host, bound as its administrator
    over StartTLS; `ldif` on standard input. The password reaches the tool as a file, never its command line."""
    password = PASSWORD_FILE.read_text().strip()
    quoted = " ".join(f"'{arg}'" for arg in args)
    script = (
        'umask 077; f="$(mktemp)"; trap \'rm -f "$f"\' EXIT; IFS= read -r pw; printf %s "$pw" > "$f"; '
        f'LDAPTLS_CACERT=/etc/ldap/tls/ca.crt {tool} -x -ZZ -H ldap://{HOST} -D "{ADMIN}" -y "$f" {quoted}'
    )
    return on(HOST, script, stdin=password + "\n" + (ldif or ""))


def search(ldap_filter: str, *attributes: str) -> str:
    """The entries under the base matching `ldap_filter`, as LDIF (only `attributes`)."""
    reply = as_admin("ldapsearch", "-LLL", "-o", "ldif-wrap=no", "-b", BASE, ldap_filter, *attributes)
    assert reply.returncode == 0, reply.stderr
    return reply.stdout


PEOPLE, GROUPS = f"ou=People,{BASE}", f"ou=Groups,{BASE}"


def crypt_sha512(password: str) -> str:
    """The password's hash as the directory stores it (glibc's SHA-512 crypt, as the seeded users')."""
    return subprocess.run(["openssl", "passwd", "-6", "-stdin"], input=password, capture_output=True, text=True,
                          check=True).stdout.strip()  # fmt: skip


def user_ldif(name: str, uid: int, password: str) -> str:
    """A user and their own group, as an engineer writes them (the seeded users' shape)."""
    entries = [
        {"dn": f"cn={name},{GROUPS}", "objectClass": ["posixGroup"], "cn": [name], "gidNumber": [str(uid)]},
        {"dn": f"uid={name},{PEOPLE}", "objectClass": ["inetOrgPerson", "posixAccount", "shadowAccount"],
         "uid": [name], "cn": [name.title()], "sn": [name.title()], "uidNumber": [str(uid)],
         "gidNumber": [str(uid)], "homeDirectory": [f"/global/homes/{name}"], "loginShell": ["/bin/bash"],
         "userPassword": ["{CRYPT}" + crypt_sha512(password)]},
    ]  # fmt: skip
    return "\n".join(
        f"dn: {entry['dn']}\n"
        + "".join(f"{key}: {value}\n" for key, values in entry.items() if key != "dn" for value in values)
        for entry in entries
    )


def membership(change: str, name: str, group: str) -> str:
    """LDIF that adds (`change` add) or deletes (delete) `name` as a member of `group`."""
    return f"dn: cn={group},{GROUPS}\nchangetype: modify\n{change}: memberUid\nmemberUid: {name}\n\n"


def add_user(name: str, uid: int, password: str, groups: tuple[str, ...]) -> None:
    """The user, their own group, and membership of `groups` (the users' group, projects)."""
    for tool, ldif in (("ldapadd", user_ldif(name, uid, password)),
                       ("ldapmodify", "".join(membership("add", name, group) for group in groups))):  # fmt: skip
        done = as_admin(tool, ldif=ldif)
        assert done.returncode == 0, done.stderr


def remove_user(name: str, groups: tuple[str, ...]) -> None:
    """Out of `groups`, then the entries; what is already gone is skipped."""
    for group in groups:
        as_admin("ldapmodify", "-c", ldif=membership("delete", name, group))
    as_admin("ldapdelete", "-c", f"uid={name},{PEOPLE}", f"cn={name},{GROUPS}")
