"""S3 buckets: all public access blocked, default encryption on, and an expiry rule for the plugin's prefix.

The executor deletes an electron's objects when it ends; a client that dies first (a killed
Covalent server) leaves them behind, and nothing else would ever remove them. The lifecycle rule
expires objects under the plugin's prefix some days after they were written. A bucket's lifecycle
configuration is one document that S3 replaces whole, so the rule is merged into it: the bucket's
other rules are kept as they are.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from covalent_braket_plugin.provisioning.engine import Provisioner, ProvisioningError, error_code
from covalent_braket_plugin.provisioning.resources import ResourceResult
from covalent_braket_plugin.s3_layout import KEY_ROOT

PUBLIC_ACCESS_BLOCK = {
    "BlockPublicAcls": True,
    "IgnorePublicAcls": True,
    "BlockPublicPolicy": True,
    "RestrictPublicBuckets": True,
}
SSE_S3 = {"Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]}
EXPIRY_RULE_ID = "covalent-braket-expiry"
EXPIRY_PREFIX = f"{KEY_ROOT}/"


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


def expiry_rule(days: int) -> dict[str, Any]:
    """The lifecycle rule expiring objects under the plugin's prefix ``days`` after they were written.

    Incomplete multipart uploads (a runner killed while uploading a large result) are aborted after
    the same number of days, since their parts are billed too and nothing would ever complete them.
    """
    return {
        "ID": EXPIRY_RULE_ID,
        "Filter": {"Prefix": EXPIRY_PREFIX},
        "Status": "Enabled",
        "Expiration": {"Days": days},
        "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": days},
    }


def lifecycle_rules(s3: Any, bucket: str) -> list[dict[str, Any]]:
    """The bucket's lifecycle rules as S3 returns them ([] when it has no lifecycle configuration)."""
    return list(_read(
        lambda: s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"],
        "NoSuchLifecycleConfiguration", [],
    ))


def expiring_rule(rules: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The first enabled rule that expires objects under the plugin's prefix, whatever its ID.

    A rule covers the prefix when its filter's prefix (none, or empty, means the whole bucket) is a
    prefix of it; rules filtering on tags or sizes cover only some objects and do not count.
    """
    for rule in rules:
        selection = rule.get("Filter", {"Prefix": rule.get("Prefix", "")})
        if set(selection) - {"Prefix"} or not EXPIRY_PREFIX.startswith(selection.get("Prefix", "")):
            continue
        if rule.get("Status") == "Enabled" and rule.get("Expiration", {}).get("Days"):
            return rule
    return None


def ensure_expiry(run: Provisioner, bucket: str, days: int) -> ResourceResult:
    """Add (or bring up to date) the expiry rule in the bucket's lifecycle configuration, keeping the rest."""
    s3 = run.client("s3")
    try:
        rules = lifecycle_rules(s3, bucket)
    except ClientError as error:
        # A dry run plans the bucket without creating it: there is no configuration to read yet.
        if not (run.dry_run and error_code(error) == "NoSuchBucket"):
            raise
        rules = []
    others = [rule for rule in rules if rule.get("ID") != EXPIRY_RULE_ID]
    name = f"{bucket} {EXPIRY_RULE_ID}"
    detail = f"expire {EXPIRY_PREFIX} after {days} d" + (
        f", {len(others)} other rule(s) kept" if others else ""
    )
    current = next((rule for rule in rules if rule.get("ID") == EXPIRY_RULE_ID), None)
    wanted = expiry_rule(days)
    # Only the fields the plugin sets are compared: S3 may return a rule with more of them.
    if current is not None and all(current.get(key) == value for key, value in wanted.items()):
        return ResourceResult("s3 lifecycle rule", name, run.did("unchanged"))
    if not run.dry_run:
        s3.put_bucket_lifecycle_configuration(
            Bucket=bucket, LifecycleConfiguration={"Rules": [*others, wanted]}
        )
    action = "created" if current is None else "updated"
    return ResourceResult("s3 lifecycle rule", name, run.did(action), detail)
