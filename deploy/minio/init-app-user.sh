#!/bin/sh
# The images service's own MinIO user, created (or brought up to date) by the one-shot
# minio-init service of docker-compose.yml with the minio image's bundled `mc`, as MinIO's
# root user, before images starts. Safe to run again on every `docker compose up`: the
# policy is rewritten, the user's secret set to MINIO_APP_PASSWORD (so changing it rotates
# the key) and the policy attached unless it already is.
#
# MINIO_APP_USER is a regular IAM user, not a service account, and its one attached policy
# allows what the images service does, on its bucket (IMAGES_BUCKET) only:
#   s3:ListBucket       HeadBucket (start-up, health) and ListObjectsV2 (GET /list_images)
#   s3:CreateBucket     the bucket, at start-up and whenever S3 answers NoSuchBucket
#   s3:PutBucketPolicy  the anonymous-read policy on that bucket (MinIO ignores ACLs)
#   s3:PutObject        PutObject and the multipart calls (create, upload part, complete)
#   s3:AbortMultipartUpload  an upload that fails half-way
#   s3:DeleteObject     the prune of replaced image versions (services/images, "Which
#                       version is current")
# No s3:GetObject: the service never reads an object; browsers read them anonymously
# through the bucket policy. Nothing on any other bucket, and no admin actions.
#
# The minio image is Red Hat UBI micro: POSIX sh and coreutils, no grep or sed.
set -eu

: "${MINIO_ROOT_USER:?}" "${MINIO_ROOT_PASSWORD:?}" "${MINIO_APP_USER:?}" "${MINIO_APP_PASSWORD:?}"
: "${IMAGES_BUCKET:?}" "${MINIO_URL:=http://minio:9000}"

refuse_placeholder() { # NAME VALUE: the services refuse these values; so does this script
  case "$2" in
    *[Cc][Hh][Aa][Nn][Gg][Ee]_[Mm][Ee]*)
      echo "minio-init: $1 is still the .env.example placeholder; set a real secret" >&2
      exit 1 ;;
  esac
}
refuse_placeholder MINIO_ROOT_USER "$MINIO_ROOT_USER"
refuse_placeholder MINIO_ROOT_PASSWORD "$MINIO_ROOT_PASSWORD"
refuse_placeholder MINIO_APP_USER "$MINIO_APP_USER"
refuse_placeholder MINIO_APP_PASSWORD "$MINIO_APP_PASSWORD"
if [ "$MINIO_APP_USER" = "$MINIO_ROOT_USER" ]; then
  echo "minio-init: MINIO_APP_USER must differ from MINIO_ROOT_USER" >&2
  exit 1
fi

mc alias set hub "$MINIO_URL" "$MINIO_ROOT_USER" "$MINIO_ROOT_PASSWORD" >/dev/null

policy=$(mktemp)
trap 'rm -f "$policy"' EXIT
cat >"$policy" <<EOF
{
  "Version": "2012-10-17",
  "Statement": [
    {
      "Effect": "Allow",
      "Action": ["s3:ListBucket", "s3:CreateBucket", "s3:PutBucketPolicy"],
      "Resource": ["arn:aws:s3:::${IMAGES_BUCKET}"]
    },
    {
      "Effect": "Allow",
      "Action": ["s3:PutObject", "s3:AbortMultipartUpload", "s3:DeleteObject"],
      "Resource": ["arn:aws:s3:::${IMAGES_BUCKET}/*"]
    }
  ]
}
EOF
mc admin policy create hub images-app "$policy" >/dev/null
mc admin user add hub "$MINIO_APP_USER" "$MINIO_APP_PASSWORD" >/dev/null

# Attaching a policy that is already attached is an error ("The specified policy change is
# already in effect", or "no net effect" in some mc releases): that one means done.
if ! out=$(mc admin policy attach hub images-app --user "$MINIO_APP_USER" 2>&1); then
  case "$out" in
    *"already in effect"* | *"no net effect"*) ;;
    *) echo "$out" >&2; exit 1 ;;
  esac
fi
echo "minio-init: user $MINIO_APP_USER has policy images-app (bucket $IMAGES_BUCKET only)"
