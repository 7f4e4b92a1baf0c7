"""S3 buckets: all public access blocked and default encryption on."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from covalent_braket_plugin.provisioning.engine import Provisioner, ProvisioningError, error_code
from covalent_braket_plugin.provisioning.resources import ResourceResult

PUBLIC_ACCESS_BLOCK = {
    "BlockPublicAcls": True,
    "IgnorePublicAcls": True,
    "BlockPublicPolicy": True,
    "RestrictPublicBuckets": True,
}
SSE_S3 = {"Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]}


def bucket_state(s3: Any, bucket: str) -> str:
    """``mine``, ``missing`` or ``foreign`` (another account's, or one this identity may not see).

    ListBuckets lists only the caller's own buckets; a name missing from it that HeadBucket does
    not report missing (404) exists elsewhere: 403 on AWS, 200 where a bucket policy lets us in,
    and 200 on moto, whose HeadBucket ignores the owner.
    """
    listed = s3.list_buckets(Prefix=bucket)["Buckets"]
    if any(entry["Name"] == bucket for entry in listed):
        return "mine"
    try:
        s3.head_bucket(Bucket=bucket)
    except ClientError as error:
        if error_code(error) in ("404", "NoSuchBucket", "NotFound"):
            return "missing"
    return "foreign"


def _read(call: Any, missing_code: str, default: Any) -> Any:
    """A bucket setting, or ``default`` when S3 answers that it was never set."""
    try:
        return call()
    except ClientError as error:
        if error_code(error) != missing_code:
            raise
        return default


def ensure_bucket(run: Provisioner, bucket: str) -> ResourceResult:
    """Create the bucket in the run's region, or block public access and encrypt the one there.

    Raises:
        ProvisioningError: the bucket is another account's, or lies in another region.
    """
    s3, region = run.client("s3"), run.region
    state = bucket_state(s3, bucket)
    if state == "foreign":
        raise ProvisioningError(
            "s3 bucket", f"the bucket {bucket} belongs to another AWS account (S3 names are global)",
            f"choose another name with --bucket, e.g. amazon-braket-covalent-{run.account_id}",
        )
    if state == "missing":
        if not run.dry_run:
            create: dict[str, Any] = {"Bucket": bucket}
            if region != "us-east-1":  # us-east-1 refuses a LocationConstraint naming itself
                create["CreateBucketConfiguration"] = {"LocationConstraint": region}
            s3.create_bucket(**create)
            s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration=PUBLIC_ACCESS_BLOCK)
            s3.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration=SSE_S3)
        return ResourceResult("s3 bucket", bucket, run.did("created"), "public access blocked, SSE-S3")
    location = s3.get_bucket_location(Bucket=bucket).get("LocationConstraint") or "us-east-1"
    location = "eu-west-1" if location == "EU" else location
    if location != region:
        raise ProvisioningError(
            "s3 bucket", f"the bucket {bucket} is in {location}, the jobs run in {region}",
            f"pass --region {location}, or choose a bucket in {region} with --bucket",
        )
    changes = []
    block = _read(
        lambda: s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"],
        "NoSuchPublicAccessBlockConfiguration", {},
    )
    if block != PUBLIC_ACCESS_BLOCK:
        changes.append("public access block")
        if not run.dry_run:
            s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration=PUBLIC_ACCESS_BLOCK)
    rules = _read(
        lambda: s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"],
        "ServerSideEncryptionConfigurationNotFoundError", [],
    )
    # Any default encryption (SSE-S3 or a stronger SSE-KMS someone chose) is kept as it is.
    if not any(rule.get("ApplyServerSideEncryptionByDefault") for rule in rules):
        changes.append("default encryption SSE-S3")
        if not run.dry_run:
            s3.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration=SSE_S3)
    action = run.did("updated" if changes else "unchanged")
    return ResourceResult("s3 bucket", bucket, action, ", ".join(changes))
