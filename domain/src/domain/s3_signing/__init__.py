"""S3's signatures, computed here rather than by a botocore call per request: presigned download
links (the api's) and signed requests (the worker's single PUTs, GETs, DELETEs and probes).

Both are SigV4 as botocore computes it (the tests compare them byte for byte); botocore still
resolves what it alone knows (endpoint rules, credentials from its chain).
"""

from domain.s3_signing.download_links import DownloadLinks, LinkSigner, content_disposition
from domain.s3_signing.request_signer import RequestSigner
from domain.s3_signing.sigv4 import S3Account, SigningKeys

__all__ = [
    "DownloadLinks",
    "LinkSigner",
    "RequestSigner",
    "S3Account",
    "SigningKeys",
    "content_disposition",
]
