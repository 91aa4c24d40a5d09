"""Static catalogue of the emulated cloud: regions, flavors, Kubernetes versions.

Realistic values, as the live API shows them (the 2024 schema snapshot lists only 1.26-1.29 in
``cloud.kube.VersionEnum``; the emulator serves the versions OVHcloud MKS supports today and widens
that enum accordingly, see docs/ovh-emulator.md).
"""

from __future__ import annotations

# Managed Kubernetes regions.
MKS_REGIONS = ("BHS5", "DE1", "GRA5", "GRA7", "GRA9", "GRA11", "SBG5", "UK1", "WAW1")
# Other Public Cloud regions a project can have (compute only).
OTHER_REGIONS = ("GRA1", "SBG1", "BHS1")
# Regions enabled on a new project (the others can be added with POST .../region).
DEFAULT_PROJECT_REGIONS = MKS_REGIONS + ("GRA1", "SBG1")

REGION_INFO = {
    # name: (continentCode, datacenterLocation, ipCountries)
    "BHS1": ("NA", "BHS", ["ca"]), "BHS5": ("NA", "BHS", ["ca"]),
    "DE1": ("EU", "DE", ["de"]),
    "GRA1": ("EU", "GRA", ["fr"]), "GRA5": ("EU", "GRA", ["fr"]), "GRA7": ("EU", "GRA", ["fr"]),
    "GRA9": ("EU", "GRA", ["fr"]), "GRA11": ("EU", "GRA", ["fr"]),
    "SBG1": ("EU", "SBG", ["fr"]), "SBG5": ("EU", "SBG", ["fr"]),
    "UK1": ("EU", "UK", ["uk"]), "WAW1": ("EU", "WAW", ["pl"]),
}
REGION_SERVICES = ("compute", "network", "volume", "image", "kubernetes", "storage")

# Kubernetes minor versions supported by MKS, oldest first, with their current patch release.
KUBE_VERSIONS = ("1.30", "1.31", "1.32", "1.33")
KUBE_PATCH = {"1.30": "1.30.14", "1.31": "1.31.10", "1.32": "1.32.6", "1.33": "1.33.2"}
DEFAULT_KUBE_VERSION = "1.33"


def next_minor(version: str) -> str | None:
    if version not in KUBE_VERSIONS:
        return None
    i = KUBE_VERSIONS.index(version)
    return KUBE_VERSIONS[i + 1] if i + 1 < len(KUBE_VERSIONS) else None


# name: (category, vCPUs, ram GB, gpus)
KUBE_FLAVORS = {
    "b2-7": ("b", 2, 7, 0), "b2-15": ("b", 4, 15, 0), "b2-30": ("b", 8, 30, 0),
    "b2-60": ("b", 16, 60, 0), "b2-120": ("b", 32, 120, 0),
    "b3-8": ("b", 2, 8, 0), "b3-16": ("b", 4, 16, 0), "b3-32": ("b", 8, 32, 0),
    "c2-7": ("c", 2, 7, 0), "c2-15": ("c", 4, 15, 0), "c2-30": ("c", 8, 30, 0),
    "c2-60": ("c", 16, 60, 0), "c2-120": ("c", 32, 120, 0),
    "r2-15": ("r", 2, 15, 0), "r2-30": ("r", 2, 30, 0), "r2-60": ("r", 4, 60, 0),
    "r2-120": ("r", 8, 120, 0), "r2-240": ("r", 16, 240, 0),
    "d2-4": ("d", 2, 4, 0), "d2-8": ("d", 4, 8, 0),
    "t1-45": ("t", 8, 45, 1), "t2-45": ("t", 15, 45, 1),
}
# Flavors sold out in some regions (state "unavailable" there).
UNAVAILABLE = {("t1-45", "WAW1"), ("t2-45", "WAW1"), ("t1-45", "UK1"), ("b3-8", "BHS5"),
               ("b3-16", "BHS5"), ("b3-32", "BHS5")}


def flavors_for(region: str) -> list[dict]:
    out = []
    for name, (cat, cpus, ram, gpus) in KUBE_FLAVORS.items():
        state = "unavailable" if (name, region) in UNAVAILABLE else "available"
        out.append({"category": cat, "gpus": gpus, "name": name, "ram": ram, "state": state, "vCPUs": cpus})
    return out


ADMISSION_PLUGINS = ("AlwaysPullImages", "NodeRestriction")
