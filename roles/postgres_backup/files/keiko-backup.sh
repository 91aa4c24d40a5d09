#!/usr/bin/env bash
# keiko-backup.sh: dump each PostgreSQL database of an environment to S3-compatible object storage.
# The exact file the CronJob of keikolatam.gitops.postgres_backup mounts from its ConfigMap (and the one its tests run).
#
# For each database of KEIKO_BACKUP_DATABASES:
#   pg_dump --format=custom | aws s3 cp - s3://<bucket>/<prefix>/<db>/<db>-<YYYYmmddTHHMMSSZ>.dump
# then, only after a complete upload (pg_dump and the upload both exited 0, the object is there with its size):
#   <prefix>/<db>/<db>-<stamp>.json   the dump's manifest {database, bucket, key, size, time, format}
#   <prefix>/<db>/LATEST.json         the same, the marker of the last successful backup
# and the retention: the dumps and manifests of that database older than KEIKO_BACKUP_RETENTION_DAYS are deleted
# (never the one LATEST.json names). A failed dump leaves no manifest and no new LATEST.json; its partial object
# is removed. Every database is tried; the exit status is non-zero if any failed.
#
# Settings (environment): KEIKO_BACKUP_DATABASES (space-separated names), KEIKO_BACKUP_BUCKET,
# KEIKO_BACKUP_PREFIX, KEIKO_BACKUP_RETENTION_DAYS (>= 1), KEIKO_BACKUP_ENDPOINT_URL (optional),
# KEIKO_BACKUP_EXPECTED_SIZE (optional, bytes: a stream over 50 GB needs it for the part size);
# PGHOST, PGPORT, PGUSER, PGPASSWORD, PGSSLMODE (libpq); AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
# AWS_DEFAULT_REGION (the AWS CLI).
set -euo pipefail

# AWS CLI >= 2.23 (and botocore >= 1.36) add CRC checksums to every upload by default, which OVH Object Storage
# refused: only when the operation requires one.
export AWS_REQUEST_CHECKSUM_CALCULATION="${AWS_REQUEST_CHECKSUM_CALCULATION:-WHEN_REQUIRED}"
export AWS_RESPONSE_CHECKSUM_VALIDATION="${AWS_RESPONSE_CHECKSUM_VALIDATION:-WHEN_REQUIRED}"
export AWS_PAGER=""
# The AWS CLI v2 the CronJob's init container copies from the amazon/aws-cli image.
if [ -d /opt/aws-cli/v2/current/bin ]; then
  PATH="/opt/aws-cli/v2/current/bin:$PATH"
fi

log() { printf '%s keiko-backup: %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$*" >&2; }
die() { log "$*"; exit 2; }

databases="${KEIKO_BACKUP_DATABASES:-}"
bucket="${KEIKO_BACKUP_BUCKET:-}"
prefix="${KEIKO_BACKUP_PREFIX:-postgres}"
prefix="${prefix%/}"
days="${KEIKO_BACKUP_RETENTION_DAYS:-}"
[ -n "$databases" ] || die "KEIKO_BACKUP_DATABASES is empty: nothing to back up"
[[ "$bucket" =~ ^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$ ]] || die "KEIKO_BACKUP_BUCKET '$bucket' is not a bucket name"
[[ "$prefix" =~ ^[A-Za-z0-9][A-Za-z0-9._/-]*$ ]] || die "KEIKO_BACKUP_PREFIX '$prefix' is not a key prefix"
[[ "$days" =~ ^[1-9][0-9]*$ ]] || die "KEIKO_BACKUP_RETENTION_DAYS '$days' is not a number of days (1 or more)"
for db in $databases; do
  [[ "$db" =~ ^[a-z_][a-z0-9_-]{0,62}$ ]] || die "database '$db' is not a database name"
done
command -v pg_dump >/dev/null || die "pg_dump is not on PATH"
command -v aws >/dev/null || die "aws (the AWS CLI) is not on PATH"

aws_args=()
if [ -n "${KEIKO_BACKUP_ENDPOINT_URL:-}" ]; then
  aws_args+=(--endpoint-url "$KEIKO_BACKUP_ENDPOINT_URL")
fi
cp_args=(--only-show-errors)
if [ -n "${KEIKO_BACKUP_EXPECTED_SIZE:-}" ]; then
  cp_args+=(--expected-size "$KEIKO_BACKUP_EXPECTED_SIZE")
fi
s3() { aws "${aws_args[@]}" "$@"; }

# A small object from a string.
put_text() { printf '%s\n' "$2" | s3 s3 cp - "s3://$bucket/$1" --only-show-errors --content-type application/json; }

# Delete the dumps and manifests of $1 older than the retention, except the dump $2 (and its manifest).
retention() {
  local db=$1 keep=$2 cutoff keys key name
  cutoff=$(date -u -d "-$days days" +%Y%m%dT%H%M%SZ)
  keys=$(s3 s3api list-objects-v2 --bucket "$bucket" --prefix "$prefix/$db/$db-" --query 'Contents[].Key' --output text)
  for key in $keys; do
    name=${key##*/}
    [[ "$name" =~ ^$db-([0-9]{8}T[0-9]{6}Z)\.(dump|json)$ ]] || continue
    [[ "${BASH_REMATCH[1]}" < "$cutoff" ]] || continue
    if [ "$key" = "$keep" ] || [ "$key" = "${keep%.dump}.json" ]; then
      continue
    fi
    log "$db: retention ($days days): deleting $key"
    s3 s3 rm "s3://$bucket/$key" --only-show-errors
  done
}

# One database (run in a subshell with errexit: any failing command ends it with a non-zero status).
backup_one() {
  local db=$1 stamp time key size manifest
  stamp=$(date -u +%Y%m%dT%H%M%SZ)
  time=$(date -u +%Y-%m-%dT%H:%M:%SZ)
  key="$prefix/$db/$db-$stamp.dump"
  log "$db: pg_dump --format=custom to s3://$bucket/$key"
  # pipefail: a pg_dump that fails halfway fails the pipeline even though the upload of what it wrote succeeded.
  if ! pg_dump --format=custom --no-password --dbname="$db" | s3 s3 cp - "s3://$bucket/$key" "${cp_args[@]}"; then
    log "$db: the dump or its upload failed: no marker written; removing the partial object"
    s3 s3 rm "s3://$bucket/$key" --only-show-errors >/dev/null 2>&1 || true
    return 1
  fi
  size=$(s3 s3api head-object --bucket "$bucket" --key "$key" --query ContentLength --output text)
  [[ "$size" =~ ^[1-9][0-9]*$ ]] || { log "$db: the uploaded object has no size ($size)"; return 1; }
  manifest=$(printf '{"database": "%s", "bucket": "%s", "key": "%s", "size": %s, "time": "%s", "stamp": "%s", "format": "custom"}' \
    "$db" "$bucket" "$key" "$size" "$time" "$stamp")
  put_text "${key%.dump}.json" "$manifest"
  put_text "$prefix/$db/LATEST.json" "$manifest"
  log "$db: done: $key ($size bytes)"
  retention "$db" "$key"
}

failed=()
for db in $databases; do
  set +e
  (
    set -euo pipefail
    backup_one "$db"
  )
  status=$?
  set -e
  [ "$status" -eq 0 ] || failed+=("$db")
done
if [ "${#failed[@]}" -gt 0 ]; then
  log "FAILED: ${failed[*]} (no new marker for them)"
  exit 1
fi
log "all backed up: $databases"
