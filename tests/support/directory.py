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
