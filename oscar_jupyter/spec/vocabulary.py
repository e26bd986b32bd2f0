"""The fixed values OSCAR knows: provider types, log levels, visibilities, server-set fields."""
from __future__ import annotations

#: Storage provider types the Manager knows (`types.StorageProviders`).
PROVIDER_TYPES = ("minio", "s3", "onedata", "webdav", "rucio")
#: Provider types a service can take inputs from (others are output-only).
INPUT_PROVIDER_TYPES = ("minio", "webdav", "rucio")
#: The provider every cluster has: its own MinIO.
DEFAULT_PROVIDER = "minio.default"
#: Log levels the supervisor understands; anything else becomes INFO.
LOG_LEVELS = ("CRITICAL", "ERROR", "WARNING", "INFO", "DEBUG", "NOTSET")
#: Who may see a service.
VISIBILITIES = ("private", "public", "restricted")
#: A service name is a DNS label of at most this many characters.
NAME_MAX = 39
#: Fields the server sets or owns; ignored when comparing a local spec with a deployed one.
SERVER_SET_FIELDS = ("token", "owner", "bucket_list", "namespace", "deployment",
                     "volume_status", "interlink_node_name")
#: Also left out of comparisons: the FDL cluster key oscar-cli copies into each service.
LABEL_FIELDS = ("cluster_id",)
#: Labels the Manager adds to every service (Kubernetes bookkeeping, not user settings).
SERVER_LABELS = ("oscar_service", "applicationId", "queue", "uid", "vo", "owner_name",
                 "kueue.x-k8s.io/queue-name")
#: Annotations that mark a federated copy; its bucket-less outputs use the origin's bucket.
ORIGIN_SERVICE_ANNOTATION = "oscar.grycap/origin-service"
ORIGIN_CLUSTER_ANNOTATION = "oscar.grycap/origin-cluster"
