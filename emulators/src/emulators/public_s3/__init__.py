"""A public S3 bucket for tests, demos and `make bench`: a real S3 server (SeaweedFS, our own
store in tests) holds the bucket, made public the way Amazon's are, by a bucket policy that lets
anyone (`"Principal": "*"`) list it and read its objects (`seed_public_bucket`). SeaweedFS
serves the listing, the objects and its own errors (AccessDenied, NoSuchKey) itself.

What a real server cannot be made to do on demand is fail: `S3FaultProxy` stands in front of it,
passes every request through, and answers the ones its fault rules pick with S3's documented
errors (SlowDown, InternalError, ServiceUnavailable) or a body cut short.

from emulators.public_s3 import S3FaultProxy, FaultRule, seed_public_bucket

seed_public_bucket(boto3_client, "photos", DriveFixture(spec))
with S3FaultProxy(s3_endpoint_url) as proxy:
    proxy.base_url  # an S3 endpoint: http://127.0.0.1:<port>/photos/...
    proxy.set_faults(FaultRule("slow_down", routes={"list"}, every=2))
"""

from emulators.public_s3.bucket import (
    object_key,
    public_read_policy,
    seed_public_bucket,
    upload_in_parts,
)
from emulators.public_s3.proxy import FaultRule, S3FaultProxy, S3FaultProxyApp

__all__ = [
    "FaultRule",
    "S3FaultProxy",
    "S3FaultProxyApp",
    "object_key",
    "public_read_policy",
    "seed_public_bucket",
    "upload_in_parts",
]
