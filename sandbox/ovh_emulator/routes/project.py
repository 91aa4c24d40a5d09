"""``/cloud/project`` and the project's regions."""

from __future__ import annotations

from .. import catalog
from ..errors import BadRequest, NotFound
from ..routing import project_initializer, route


@project_initializer
def _init(project: dict, app) -> None:
    project.setdefault("regions", list(catalog.DEFAULT_PROJECT_REGIONS))


@route("GET", "/cloud/project")
def list_projects(ctx):
    return sorted(ctx.state["projects"])


@route("GET", "/cloud/project/{serviceName}")
def get_project(ctx, serviceName):
    p = ctx.project(serviceName)
    ctx.touch(serviceName)
    return {
        "access": "full",
        "creationDate": ctx.iso(p["_created_ts"]),
        "description": p.get("description"),
        "expiration": None,
        "iam": {"displayName": p.get("description"), "id": _uuid_of(serviceName), "tags": None,
                "urn": f"urn:v1:eu:resource:publicCloudProject:{serviceName}"},
        "manualQuota": False,
        "orderId": None,
        "planCode": "project.2018",
        "projectName": p.get("description"),
        "project_id": serviceName,
        "status": "ok",
        "unleash": False,
    }


def _uuid_of(hex32: str) -> str:
    h = (hex32 + "0" * 32)[:32]
    return f"{h[0:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"


def region_object(name: str) -> dict:
    continent, dc, countries = catalog.REGION_INFO.get(name, ("EU", name.rstrip("0123456789"), []))
    services = [{"endpoint": f"https://{svc}.{name.lower()}.cloud.ovh.net", "name": svc, "status": "UP"}
                for svc in catalog.REGION_SERVICES
                if svc != "kubernetes" or name in catalog.MKS_REGIONS]
    return {"continentCode": continent, "datacenterLocation": dc, "ipCountries": countries, "name": name,
            "services": services, "status": "UP", "type": "region"}


@route("GET", "/cloud/project/{serviceName}/region")
def list_regions(ctx, serviceName):
    return list(ctx.project(serviceName)["regions"])


@route("GET", "/cloud/project/{serviceName}/region/{regionName}")
def get_region(ctx, serviceName, regionName):
    p = ctx.project(serviceName)
    if regionName not in p["regions"]:
        raise NotFound(f"Region {regionName} not found")
    return region_object(regionName)


@route("POST", "/cloud/project/{serviceName}/region", create=True)
def add_region(ctx, serviceName):
    p = ctx.project(serviceName)
    name = ctx.body["region"]
    if name not in catalog.REGION_INFO:
        raise BadRequest(f"Region {name} does not exist")
    if name in p["regions"]:
        raise BadRequest(f"Region {name} is already enabled on this project")
    p["regions"].append(name)
    ctx.touch(name)
    return region_object(name)
