"""The few OpenStack APIs of a Public Cloud project that a floating IP needs: Keystone v3 and Neutron v2.0.

OVHcloud's Public Cloud is OpenStack: a Public Cloud user (``POST /cloud/project/{serviceName}/user``, see
``routes/users.py``) logs in to Keystone with its user name and password, scoped to the project (the OVH
``serviceName`` is the OpenStack project ID), and reaches Neutron through the catalog. Served here:

    /openstack/identity/                         GET   version list (300)
    /openstack/identity/v3                       GET   the v3 version document
    /openstack/identity/v3/auth/tokens           POST  password auth -> 201, X-Subject-Token, token + catalog
                                                 GET   validate X-Subject-Token (X-Auth-Token required)
                                                 DELETE revoke X-Subject-Token
    /openstack/network/<REGION>/                 GET   version list
    /openstack/network/<REGION>/v2.0/networks    GET   Ext-Net (external) and the project's private networks
    /openstack/network/<REGION>/v2.0/networks/{id}            GET
    /openstack/network/<REGION>/v2.0/floatingips              GET, POST
    /openstack/network/<REGION>/v2.0/floatingips/{id}         GET, PUT, DELETE

As strict as the OVH routes: every Neutron call needs a valid, unexpired, project-scoped token (401 in
keystonemiddleware's shape without or with a bad one), the user's roles are checked (``network_operator``,
``administrator``; ``infrastructure_supervisor`` reads only: 403 ``PolicyNotAuthorized``), request bodies are
checked against the documented attributes (400 ``Unrecognized attribute(s)``, a missing required one, a
read-only one), list filters against the resource's attributes (400 ``... is invalid attribute for
filtering``), unknown IDs answer 404 ``{"NeutronError": {"type": "FloatingIPNotFound", ...}}``; every answer
is checked against the resource's documented attribute set (a difference is a recorded violation, like an
OVH response that does not validate), and every request is in the request log (kind ``openstack``, the
password redacted). Paths the emulator does not serve answer 404 and are recorded as ``unimplemented``.

Each region's Ext-Net has one IPv4 subnet, 198.18.<n>.0/24 (RFC 2544's benchmarking range: never a real
address); floating IPs are allocated from it and live in ``project["floating_ips"]``.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from typing import Any
from urllib.parse import parse_qs

from . import catalog, lifecycle
from .routes import users as cloud_users

PREFIX = "/openstack"
IDENTITY = PREFIX + "/identity"
NETWORK = PREFIX + "/network"
TOKEN_TTL = 24 * 3600.0
DOMAIN = {"id": "default", "name": "Default"}
EXT_NET = "Ext-Net"
ALL_REGIONS = sorted(catalog.REGION_INFO)

# The permissions of OVH's roles (routes/users.py) that reach Neutron: "*" and "network:*" everything,
# "*:read" GET only.
UNAUTHORIZED = {"error": {"code": 401, "title": "Unauthorized",
                          "message": "The request you have made requires authentication."}}

# Documented attributes (Neutron API reference, v2.0). ``fields`` of the answers are exactly these.
NETWORK_FIELDS = frozenset((
    "admin_state_up", "availability_zone_hints", "availability_zones", "created_at", "description", "dns_domain",
    "id", "ipv4_address_scope", "ipv6_address_scope", "is_default", "l2_adjacency", "mtu", "name",
    "port_security_enabled", "project_id", "qos_policy_id", "revision_number", "router:external", "shared",
    "status", "subnets", "tags", "tenant_id", "updated_at"))
FIP_FIELDS = frozenset((
    "created_at", "description", "dns_domain", "dns_name", "fixed_ip_address", "floating_ip_address",
    "floating_network_id", "id", "port_details", "port_forwardings", "port_id", "project_id", "qos_policy_id",
    "revision_number", "router_id", "status", "tags", "tenant_id", "updated_at"))
FIP_CREATE = frozenset(("floating_network_id", "floating_ip_address", "subnet_id", "port_id", "fixed_ip_address",
                        "tenant_id", "project_id", "description", "dns_name", "dns_domain", "qos_policy_id"))
FIP_UPDATE = frozenset(("port_id", "fixed_ip_address", "description", "qos_policy_id"))
PAGING = frozenset(("fields", "sort_key", "sort_dir", "limit", "marker", "page_reverse", "tags", "tags-any",
                    "not-tags", "not-tags-any"))


class OsAnswer:
    def __init__(self, status: int, body: Any = None, headers: dict | None = None):
        self.status = status
        self.body = body
        self.headers = dict(headers or {})

    def payload(self) -> bytes:
        return b"" if self.body is None else json.dumps(self.body).encode("utf-8")


class OsError(Exception):
    def __init__(self, status: int, kind: str, message: str):
        super().__init__(message)
        self.status, self.kind, self.message = status, kind, message

    def answer(self) -> OsAnswer:
        return OsAnswer(self.status, {"NeutronError": {"type": self.kind, "message": self.message, "detail": ""}})


def _uuid(*parts: str) -> str:
    h = hashlib.md5(":".join(parts).encode()).hexdigest()
    return f"{h[0:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"


def ext_net_id(region: str) -> str:
    return _uuid("ext-net", region)


def ext_subnet(region: str) -> tuple[str, str]:
    """(subnet id, a.b.c.) of the region's Ext-Net subnet 198.18.<n>.0/24."""
    return _uuid("ext-subnet", region), f"198.18.{ALL_REGIONS.index(region) + 1}."


def _iso(ts: float) -> str:
    return lifecycle.iso(ts)


class OpenStack:
    """Dispatches ``/openstack/...`` requests of the emulator ``app`` (a :class:`server.Emulator`)."""

    def __init__(self, app):
        self.app = app

    # -- entry point -------------------------------------------------------------------------
    def handle(self, method: str, path: str, raw_query: str, headers, body_text: str, base_url: str,
               entry: dict) -> OsAnswer:
        query = parse_qs(raw_query, keep_blank_values=True)
        self.app.tick()  # statuses move on first, as before every OVH API request (a user becomes "ok")
        request_id = "req-" + self.app.ids.uuid()
        entry["openstack_request_id"] = request_id
        if path == IDENTITY or path.startswith(IDENTITY + "/"):
            entry["service"] = "identity"
            ans = self._identity(method, path[len(IDENTITY):].rstrip("/") or "/", headers, body_text, base_url, entry)
        elif path.startswith(NETWORK + "/"):
            entry["service"] = "network"
            region, _slash, rest = path[len(NETWORK) + 1:].partition("/")
            ans = self._network(method, region, "/" + rest, query, headers, body_text, base_url, entry)
        else:
            ans = self._unimplemented(method, path, entry)
        ans.headers.setdefault("X-Openstack-Request-Id", request_id)
        return ans

    def _unimplemented(self, method: str, path: str, entry: dict) -> OsAnswer:
        self.app.add_violation({"kind": "unimplemented", "seq": entry["seq"], "method": method, "path": path,
                                "operation": None,
                                "message": f"the emulator does not implement the OpenStack route {method} {path}"})
        return OsError(404, "HTTPNotFound", "The resource could not be found.").answer()

    def _check_fields(self, entry: dict, method: str, path: str, kind: str, obj: dict, fields: frozenset) -> None:
        got = frozenset(obj)
        if got != fields:
            self.app.add_violation({"kind": "response_schema", "seq": entry["seq"], "method": method, "path": path,
                                    "operation": path, "type": kind, "where": kind,
                                    "message": f"{kind} attributes differ from the documented ones: missing "
                                               f"{sorted(fields - got)}, unexpected {sorted(got - fields)}"})

    # -- Keystone ----------------------------------------------------------------------------
    def _identity(self, method, sub, headers, body_text, base_url, entry) -> OsAnswer:
        v3 = f"{base_url}{IDENTITY}/v3/"
        version = {"id": "v3.14", "status": "stable", "updated": "2020-04-07T00:00:00Z",
                   "links": [{"rel": "self", "href": v3}],
                   "media-types": [{"base": "application/json",
                                    "type": "application/vnd.openstack.identity-v3+json"}]}
        if sub == "/":
            if method != "GET":
                return _method_not_allowed()
            return OsAnswer(300, {"versions": {"values": [version]}})
        if sub == "/v3":
            if method != "GET":
                return _method_not_allowed()
            return OsAnswer(200, {"version": version})
        if sub != "/v3/auth/tokens":
            return self._unimplemented(method, IDENTITY + sub, entry)
        if method == "POST":
            return self._issue_token(body_text, base_url, entry)
        if method in ("GET", "HEAD", "DELETE"):
            with self.app.store.transaction() as st:
                caller = self._token(st, headers.get("X-Auth-Token"))
                subject = self._token(st, headers.get("X-Subject-Token"))
                if caller is None:
                    return OsAnswer(401, UNAUTHORIZED)
                if subject is None:
                    return OsAnswer(404, {"error": {"code": 404, "title": "Not Found",
                                                    "message": "Could not find token."}})
                if method == "DELETE":
                    st["openstack_tokens"].pop(_digest(headers.get("X-Subject-Token")), None)
                    return OsAnswer(204)
                return OsAnswer(200, {"token": subject["body"]},
                                {"X-Subject-Token": headers.get("X-Subject-Token")})
        return _method_not_allowed()

    def _issue_token(self, body_text, base_url, entry) -> OsAnswer:
        try:
            body = json.loads(body_text or "")
        except ValueError:
            return _keystone_error(400, "Bad Request", "Malformed request body.")
        entry["body"] = _redact_auth(body)
        auth = body.get("auth") if isinstance(body, dict) else None
        identity = auth.get("identity") if isinstance(auth, dict) else None
        if not isinstance(identity, dict) or not isinstance(identity.get("methods"), list):
            return _keystone_error(400, "Bad Request", "Invalid input for field 'identity': 'methods' is a required "
                                                       "property")
        if identity["methods"] != ["password"]:
            return OsAnswer(401, UNAUTHORIZED)
        user_in = ((identity.get("password") or {}).get("user")) or {}
        name, password = user_in.get("name"), user_in.get("password")
        domain = user_in.get("domain") or {}
        if not isinstance(password, str) or not password or not (name or user_in.get("id")):
            return _keystone_error(400, "Bad Request", "Invalid input for field 'identity/password/user'.")
        if name and not (domain.get("id") == DOMAIN["id"] or domain.get("name") == DOMAIN["name"]):
            return OsAnswer(401, UNAUTHORIZED)  # users of OVH projects are in the Default domain
        with self.app.store.transaction() as st:
            service_name, user = self._find_user(st, name, user_in.get("id"))
            if user is None or user["status"] != "ok" or not cloud_users.check_password(user, password):
                entry["auth"] = "rejected"
                return OsAnswer(401, UNAUTHORIZED)
            scope = auth.get("scope")
            project = None
            if scope is not None:
                wanted = (scope or {}).get("project") or {}
                if wanted.get("id") != service_name:
                    entry["auth"] = "rejected"
                    return OsAnswer(401, {"error": {"code": 401, "title": "Unauthorized",
                                                    "message": "The request you have made requires authentication."}})
                project = {"domain": dict(DOMAIN), "id": service_name, "name": service_name}
            now = self.app.store.now()
            token = "gAAAAA" + self.app.ids.token(120)
            tok = {"methods": ["password"],
                   "user": {"domain": dict(DOMAIN), "id": user["openstackId"], "name": user["username"],
                            "password_expires_at": None},
                   "audit_ids": [self.app.ids.token(22)],
                   "expires_at": _iso_micro(now + TOKEN_TTL), "issued_at": _iso_micro(now)}
            if project is not None:
                regions = st["projects"][service_name].get("regions") or []
                tok.update(project=project, is_domain=False,
                           roles=[{"id": r["id"], "name": r["name"]} for r in user["roles"]],
                           catalog=self._catalog(base_url, regions))
            st.setdefault("openstack_tokens", {})[_digest(token)] = {
                "body": tok, "expires": now + TOKEN_TTL, "service_name": service_name if project else None,
                "user_id": user["id"]}
            _expire_tokens(st, now)
        entry["auth"] = "openstack-password"
        entry["resources"] = [user["openstackId"]]
        return OsAnswer(201, {"token": tok}, {"X-Subject-Token": token})

    @staticmethod
    def _find_user(st, name, user_id):
        if name:
            return cloud_users.find_by_username(st, name)
        for sn, proj in st["projects"].items():
            for user in (proj.get("cloud_users") or {}).values():
                if user["openstackId"] == user_id:
                    return sn, user
        return None, None

    def _catalog(self, base_url: str, regions: list) -> list:
        def endpoints(service: str, url_of) -> list:
            return [{"id": _uuid(service, r).replace("-", ""), "interface": "public", "region_id": r, "region": r,
                     "url": url_of(r)} for r in regions]
        return [
            {"id": _uuid("identity").replace("-", ""), "type": "identity", "name": "keystone",
             "endpoints": endpoints("identity", lambda r: f"{base_url}{IDENTITY}/v3/")},
            {"id": _uuid("network").replace("-", ""), "type": "network", "name": "neutron",
             "endpoints": endpoints("network", lambda r: f"{base_url}{NETWORK}/{r}/")},
        ]

    @staticmethod
    def _token(st, token: str | None):
        if not token:
            return None
        rec = (st.get("openstack_tokens") or {}).get(_digest(token))
        if rec is None or rec["expires"] <= _now_of(st):
            return None
        return rec

    # -- Neutron -----------------------------------------------------------------------------
    def _network(self, method, region, sub, query, headers, body_text, base_url, entry) -> OsAnswer:
        root = f"{base_url}{NETWORK}/{region}/"
        if region not in catalog.REGION_INFO:
            return self._unimplemented(method, f"{NETWORK}/{region}{sub}", entry)
        if sub in ("/", ""):
            if method != "GET":
                return _method_not_allowed()
            return OsAnswer(200, {"versions": [{"id": "v2.0", "status": "CURRENT",
                                                "links": [{"href": root + "v2.0/", "rel": "self"}]}]})
        m = re.fullmatch(r"/v2\.0/(networks|floatingips)(?:\.json)?(?:/([^/]+))?/?", sub)
        if m is None:
            if sub.rstrip("/") == "/v2.0" and method == "GET":
                links = [{"name": n, "collection": n, "links": [{"href": root + "v2.0/" + n, "rel": "self"}]}
                         for n in ("networks", "floatingips")]
                return OsAnswer(200, {"resources": links})
            return self._unimplemented(method, f"{NETWORK}/{region}{sub}", entry)
        collection, item = m.group(1), m.group(2)
        with self.app.store.transaction() as st:
            rec = self._token(st, headers.get("X-Auth-Token"))
            if rec is None or rec["service_name"] is None or rec["service_name"] not in st["projects"]:
                entry["auth"] = "rejected"
                return OsAnswer(401, UNAUTHORIZED,
                                {"WWW-Authenticate": f'Keystone uri="{base_url}{IDENTITY}"'})
            entry["auth"] = "openstack-token"
            service_name = rec["service_name"]
            proj = st["projects"][service_name]
            if region not in (proj.get("regions") or []):
                return OsError(404, "HTTPNotFound", "The resource could not be found.").answer()
            perms = {p for r in rec["body"].get("roles") or [] for p in cloud_users.ROLES.get(r["name"], ("", []))[1]}
            resource = "network" if collection == "networks" else "floatingip"
            action = {"GET": "get", "POST": "create", "PUT": "update", "DELETE": "delete"}.get(method)
            if action is None:
                return _method_not_allowed()
            if not ("*" in perms or "network:*" in perms or (action == "get" and "*:read" in perms)):
                return OsError(403, "PolicyNotAuthorized",
                               f"rule:{action}_{resource} is disallowed by policy").answer()
            body = None
            if body_text.strip():
                try:
                    body = json.loads(body_text)
                except ValueError:
                    return OsError(400, "HTTPBadRequest", "Malformed JSON in request body.").answer()
                entry["body"] = body
            ctx = _Neutron(self.app, st, proj, service_name, region, entry)
            try:
                if collection == "networks":
                    if method != "GET":
                        return _method_not_allowed()
                    ans = ctx.networks(query) if item is None else ctx.network(item, query)
                elif item is None:
                    ans = ctx.list_fips(query) if method == "GET" else (
                        ctx.create_fip(body) if method == "POST" else _method_not_allowed())
                else:
                    ans = {"GET": lambda: ctx.get_fip(item, query), "PUT": lambda: ctx.update_fip(item, body),
                           "DELETE": lambda: ctx.delete_fip(item)}.get(method, _method_not_allowed)()
            except OsError as err:
                return err.answer()
        for kind, fields, obj in ctx.checked:
            self._check_fields(entry, method, sub, kind, obj, fields)
        return ans


class _Neutron:
    """One Neutron request on a project's state (under the store's lock)."""

    def __init__(self, app, st, proj, service_name, region, entry):
        self.app, self.st, self.proj, self.sn, self.region, self.entry = app, st, proj, service_name, region, entry
        self.now = app.store.now()
        self.checked: list = []
        proj.setdefault("floating_ips", {})

    # networks ---------------------------------------------------------------------------------
    def _network_objects(self) -> list:
        subnet_id, _prefix = ext_subnet(self.region)
        ext = self._net_obj(ext_net_id(self.region), EXT_NET, [subnet_id], external=True,
                            owner="ovh" + "0" * 29, created=0.0)
        out = [ext]
        for n in (self.proj.get("networks") or {}).values():
            for r in n.get("regions") or []:
                if r.get("region") == self.region and r.get("openstackId"):
                    subs = [s["id"] for s in (n.get("subnets") or {}).values() if s.get("region") == self.region]
                    out.append(self._net_obj(r["openstackId"], n["name"], subs, external=False, owner=self.sn,
                                             created=float(n.get("_created_ts") or 0.0)))
        return out

    @staticmethod
    def _net_obj(nid, name, subnets, *, external, owner, created) -> dict:
        return {"admin_state_up": True, "availability_zone_hints": [], "availability_zones": ["nova"],
                "created_at": _iso(created), "description": "", "dns_domain": "", "id": nid,
                "ipv4_address_scope": None, "ipv6_address_scope": None, "is_default": False, "l2_adjacency": True,
                "mtu": 1500 if external else 1450, "name": name, "port_security_enabled": True,
                "project_id": owner, "qos_policy_id": None, "revision_number": 1, "router:external": external,
                "shared": False, "status": "ACTIVE", "subnets": list(subnets), "tags": [], "tenant_id": owner,
                "updated_at": _iso(created)}

    def networks(self, query) -> OsAnswer:
        objs = _filter(self._network_objects(), query, NETWORK_FIELDS)
        for o in objs:
            self.checked.append(("network", NETWORK_FIELDS, o))
        return OsAnswer(200, {"networks": _fields(objs, query)})

    def network(self, nid, query) -> OsAnswer:
        for o in self._network_objects():
            if o["id"] == nid:
                self.checked.append(("network", NETWORK_FIELDS, o))
                return OsAnswer(200, {"network": _fields([o], query)[0]})
        raise OsError(404, "NetworkNotFound", f"Network {nid} could not be found.")

    # floating IPs -------------------------------------------------------------------------------
    def _mine(self) -> list:
        return [f for f in self.proj["floating_ips"].values() if f["_region"] == self.region]

    @staticmethod
    def _view(f: dict) -> dict:
        return {k: v for k, v in f.items() if not k.startswith("_")}

    def _record(self, fid) -> dict:
        f = self.proj["floating_ips"].get(fid)
        if f is None or f["_region"] != self.region:
            raise OsError(404, "FloatingIPNotFound", f"Floating IP {fid} could not be found")
        self.entry.setdefault("resources", []).append(fid)
        return f

    def list_fips(self, query) -> OsAnswer:
        objs = _filter([self._view(f) for f in self._mine()], query, FIP_FIELDS)
        for o in objs:
            self.checked.append(("floatingip", FIP_FIELDS, o))
        return OsAnswer(200, {"floatingips": _fields(sorted(objs, key=lambda o: o["created_at"] + o["id"]), query)})

    def get_fip(self, fid, query) -> OsAnswer:
        obj = self._view(self._record(fid))
        self.checked.append(("floatingip", FIP_FIELDS, obj))
        return OsAnswer(200, {"floatingip": _fields([obj], query)[0]})

    def _attrs(self, body, allowed: frozenset, action: str) -> dict:
        if not isinstance(body, dict) or not isinstance(body.get("floatingip"), dict) or len(body) != 1:
            raise OsError(400, "HTTPBadRequest", "Resource body required" if not body else
                          "Bad floatingip request: the body must be {\"floatingip\": {...}}.")
        attrs = body["floatingip"]
        unknown = sorted(set(attrs) - allowed)
        if unknown:
            read_only = [k for k in unknown if k in FIP_FIELDS]
            if read_only:
                raise OsError(400, "HTTPBadRequest",
                              f"Attribute '{read_only[0]}' not allowed in {action}")
            raise OsError(400, "HTTPBadRequest", "Unrecognized attribute(s) '%s'" % ", ".join(unknown))
        for key in ("description", "dns_name", "dns_domain"):
            if key in attrs and not isinstance(attrs[key], str):
                raise OsError(400, "HTTPBadRequest", f"Invalid input for {key}. Reason: '{attrs[key]}' is not a "
                                                     "valid string.")
        if len(attrs.get("description") or "") > 255:
            raise OsError(400, "HTTPBadRequest", "Invalid input for description. Reason: "
                                                 f"'{attrs['description']}' exceeds maximum length of 255.")
        if attrs.get("port_id") is not None:
            raise OsError(404, "PortNotFound", f"Port {attrs['port_id']} could not be found.")
        if attrs.get("fixed_ip_address") is not None:
            raise OsError(400, "HTTPBadRequest", "fixed_ip_address cannot be specified without a port_id")
        if attrs.get("qos_policy_id") is not None:
            raise OsError(404, "QosPolicyNotFound", f"QoS policy {attrs['qos_policy_id']} could not be found.")
        return attrs

    def create_fip(self, body) -> OsAnswer:
        attrs = self._attrs(body, FIP_CREATE, "create")
        net_id = attrs.get("floating_network_id")
        if not net_id:
            raise OsError(400, "HTTPBadRequest", "Failed to parse request. Required attribute "
                                                 "'floating_network_id' not specified")
        nets = {n["id"]: n for n in self._network_objects()}
        if net_id not in nets:
            raise OsError(404, "NetworkNotFound", f"Network {net_id} could not be found.")
        if not nets[net_id]["router:external"]:
            raise OsError(400, "BadRequest", f"Bad floatingip request: Network {net_id} is not a valid external "
                                             "network.")
        for key in ("tenant_id", "project_id"):
            if attrs.get(key) not in (None, self.sn):
                raise OsError(403, "PolicyNotAuthorized", "rule:create_floatingip:" + key + " is disallowed by "
                                                          "policy")
        subnet_id, prefix = ext_subnet(self.region)
        if attrs.get("subnet_id") not in (None, subnet_id):
            raise OsError(400, "BadRequest", f"Bad floatingip request: Subnet {attrs['subnet_id']} does not belong "
                                             f"to network {net_id}.")
        used = {f["floating_ip_address"] for f in self._mine()}
        wanted = attrs.get("floating_ip_address")
        if wanted is not None:
            if not re.fullmatch(re.escape(prefix) + r"(\d{1,3})", str(wanted)) or not 1 <= int(
                    str(wanted).rsplit(".", 1)[1]) <= 254:
                raise OsError(400, "InvalidIpForNetwork", f"IP address {wanted} is not a valid IP for any of the "
                                                          f"subnets on the specified network.")
            if wanted in used:
                raise OsError(409, "IpAddressAlreadyAllocated",
                              f"IP address {wanted} already allocated in subnet {subnet_id}")
            address = wanted
        else:
            free = [f"{prefix}{i}" for i in range(10, 255) if f"{prefix}{i}" not in used]
            if not free:
                raise OsError(409, "IpAddressGenerationFailure",
                              f"No more IP addresses available on network {net_id}.")
            address = free[0]
        fid = self.app.ids.uuid()
        stamp = _iso(self.now)
        f = {"created_at": stamp, "description": attrs.get("description") or "",
             "dns_domain": attrs.get("dns_domain") or "", "dns_name": attrs.get("dns_name") or "",
             "fixed_ip_address": None, "floating_ip_address": address, "floating_network_id": net_id, "id": fid,
             "port_details": None, "port_forwardings": [], "port_id": None, "project_id": self.sn,
             "qos_policy_id": None, "revision_number": 0, "router_id": None, "status": "DOWN", "tags": [],
             "tenant_id": self.sn, "updated_at": stamp, "_region": self.region}
        self.proj["floating_ips"][fid] = f
        self.entry.setdefault("resources", []).append(fid)
        obj = self._view(f)
        self.checked.append(("floatingip", FIP_FIELDS, obj))
        return OsAnswer(201, {"floatingip": obj})

    def update_fip(self, fid, body) -> OsAnswer:
        f = self._record(fid)
        attrs = self._attrs(body, FIP_UPDATE, "update")
        changed = False
        for k, v in attrs.items():
            if f.get(k) != (v if v is not None else (None if k != "description" else "")):
                f[k] = v if v is not None or k != "description" else ""
                changed = True
        if changed:
            f["revision_number"] += 1
            f["updated_at"] = _iso(self.now)
        obj = self._view(f)
        self.checked.append(("floatingip", FIP_FIELDS, obj))
        return OsAnswer(200, {"floatingip": obj})

    def delete_fip(self, fid) -> OsAnswer:
        self._record(fid)
        del self.proj["floating_ips"][fid]
        return OsAnswer(204)


# -- helpers ---------------------------------------------------------------------------------------

def _method_not_allowed() -> OsAnswer:
    return OsAnswer(405, {"NeutronError": {"type": "HTTPMethodNotAllowed",
                                           "message": "The method is not allowed for this resource.", "detail": ""}})


def _keystone_error(status: int, title: str, message: str) -> OsAnswer:
    return OsAnswer(status, {"error": {"code": status, "title": title, "message": message}})


def _digest(token: str | None) -> str:
    return hashlib.sha256((token or "").encode()).hexdigest()


def _now_of(st) -> float:
    return time.time() + float(st.get("clock_offset", 0.0))


def _expire_tokens(st, now: float) -> None:
    tokens = st.get("openstack_tokens") or {}
    for k in [k for k, v in tokens.items() if v["expires"] <= now]:
        del tokens[k]


def _iso_micro(ts: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts)) + ".%06dZ" % int((ts % 1) * 1e6)


def _redact_auth(body: Any) -> Any:
    from .reqlog import redact

    return redact(body)


def _as_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def _filter(objs: list, query: dict, fields: frozenset) -> list:
    """Neutron's list filters: each attribute may be given several times (any of the values matches)."""
    bad = sorted(k for k in query if k not in fields and k not in PAGING)
    if bad:
        raise OsError(400, "HTTPBadRequest", f"{bad} is invalid attribute for filtering")
    out = []
    for o in objs:
        if all(_as_text(o.get(k)).lower() in [v.lower() for v in values] if isinstance(o.get(k), bool)
               else _as_text(o.get(k)) in values for k, values in query.items() if k in fields):
            out.append(o)
    return out


def _fields(objs: list, query: dict) -> list:
    wanted = query.get("fields")
    if not wanted:
        return objs
    return [{k: v for k, v in o.items() if k in wanted} for o in objs]
