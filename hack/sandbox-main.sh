#!/usr/bin/env bash
# The main job on the embedded default (`make sandbox` runs it after `make venv collection`):
#   1. start the sandbox in .sandbox/ (the OVH API emulator, the local Kubernetes control plane, the git
#      server of the GitOps remote, the real Argo CD processes), which writes .sandbox/env;
#   2. run `ansible-playbook -i inventories/sandbox site.yml` with that environment: provision the OVH
#      project, then bootstrap Argo CD and the root Application on the cluster;
#   3. print what was created, where Argo CD's API and UI are and how to log in, and what to run next.
# Extra arguments go to ansible-playbook (for example -v, --check --diff, -e key=value).
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
bin="$repo/.venv/bin"
sandbox="$repo/.sandbox"
secrets="${KEIKO_SECRETS_DIR:-$sandbox/secrets}"

say() { printf '\n==> %s\n' "$*"; }
elapsed() { echo "$(( $(date +%s) - $1 ))s"; }

if [ ! -x "$bin/ansible-playbook" ] || [ ! -L .collections/ansible_collections/keikolatam/gitops ]; then
  say "Preparing the virtualenv and the collection link (make venv collection)"
  "${MAKE:-make}" --no-print-directory venv collection
fi

started=$(date +%s)
say "Starting the sandbox in .sandbox/ (make sandbox-up)"
"${MAKE:-make}" --no-print-directory sandbox-up
if [ ! -f "$sandbox/env" ]; then
  echo "sandbox-main: make sandbox-up did not write $sandbox/env" >&2
  exit 1
fi
# shellcheck disable=SC1091
source "$sandbox/env"
export ANSIBLE_CONFIG="$repo/ansible.cfg" KEIKO_SECRETS_DIR="$secrets"
echo "OVH API emulator: $OVH_ENDPOINT (project $OVH_CLOUD_PROJECT_SERVICE)"
if [ -n "${KEIKO_SANDBOX_CLUSTERS_DIR:-}" ]; then
  echo "Kubernetes API:   a local control plane per OVH cluster, under $KEIKO_SANDBOX_CLUSTERS_DIR/<cluster name>/"
else
  echo "Kubernetes API:   none (the OVH emulator answers with a synthetic kubeconfig)"
fi
echo "GitOps remote:    ${KEIKO_GITOPS_URL:-none}"
echo "Argo CD API:      ${KEIKO_ARGOCD_URL:-none}"

say "Provisioning and bootstrapping the sandbox: ansible-playbook -i inventories/sandbox site.yml $*"
echo "(each wait prints a 'RETRYING' line per poll while the emulator moves resources through their statuses)"
play_started=$(date +%s)
"$bin/ansible-playbook" -i inventories/sandbox site.yml "$@"
play_time=$(elapsed "$play_started")

say "What the sandbox's OVH project holds now (inventory plugin keikolatam.gitops.ovh_cloud)"
"$bin/ansible-inventory" -i inventories/sandbox.ovh_cloud.yml --graph

kubeconfig="$secrets/kubeconfig"
cat <<EOF

==> Done in $(elapsed "$started") (site.yml: $play_time)
Created on the sandbox's OVH project (inventories/sandbox/host_vars/sandbox/platform.yml):
  - private network keikolatam-sandbox (GRA11) and its subnet 10.100.0.0/16
  - Managed Kubernetes cluster keikolatam-sandbox with node pools system and applications
  - PostgreSQL service keikolatam-sandbox: one database and one user per service
    (identity, learning, reputation, passport, governance, marketplace), reachable from the nodes' subnet
  - registry keikolatam-sandbox with the user ci-pusher
  - bucket keikolatam-sandbox-backups and the S3 key pair of its owner
Bootstrapped on the cluster (playbooks/bootstrap.yml): Argo CD ${KEIKO_ARGOCD_VERSION:-v3.6.1} in the namespace argocd,
  its AppProjects platform and keiko, and the root Application keiko-sandbox, synced from the GitOps
  remote $KEIKO_GITOPS_URL (branch main, rendered from keiko_services: k8s/base/<service>/ for the six services
  and the gateway, k8s/overlays/sandbox/ and argocd/sandbox/), and its children, one Application per service
  (keiko-sandbox-svc-identity, ...), Synced and Healthy: the seven Deployments run on the kwok nodes
Kubeconfig of the cluster: $kubeconfig
Generated secrets (mode 0600, outside git): $secrets/{database-users,registry-users,backup-s3}.yml

Argo CD (the real API server, on loopback): ${KEIKO_ARGOCD_URL:-not running}
  UI: open it in a browser; log in as admin with the password Argo CD generated:
    kubectl --kubeconfig $kubeconfig -n argocd get secret argocd-initial-admin-secret -o jsonpath='{.data.password}' | base64 -d
  curl -s ${KEIKO_ARGOCD_URL:-http://127.0.0.1:PORT}/api/version
  The applications: kubectl --kubeconfig $kubeconfig -n argocd get applications

Next:
  source .sandbox/env
  kubectl --kubeconfig $kubeconfig get nodes                            # the kwok nodes of the node pools
  git clone \$KEIKO_GITOPS_URL                                          # the GitOps remote (user/password in .sandbox/env)
  .venv/bin/ansible-playbook -i inventories/sandbox site.yml --check --diff   # converged: no change
  .venv/bin/ansible-playbook -i inventories/sandbox site.yml                 # again: changed=0
  kubectl --kubeconfig $kubeconfig -n keiko get deployments                # the services Argo CD deployed
  .venv/bin/ansible-playbook -i inventories/sandbox playbooks/history.yml -e env=sandbox   # the audit trail in git
  .venv/bin/ansible-inventory -i inventories/sandbox.ovh_cloud.yml --graph
  (deploy, promotion across dev/staging/production and rollback: docs/operations.md, inventories/sandbox-envs)
  .venv/bin/ansible-playbook -i inventories/sandbox playbooks/destroy.yml     # keeps the protected database
  make sandbox-down                                                          # stop everything
EOF
