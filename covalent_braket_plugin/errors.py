"""The plugin's configuration errors, shared by the settings, the AWS access layer and the executor."""


class ExecutorConfigError(ValueError):
    """One or more executor settings are invalid; the message lists each with its fix."""


class BucketNotFoundError(ExecutorConfigError):
    """``s3_bucket_name`` names a bucket that does not exist.

    Only S3 can tell, so this comes with the electron's first upload, not with the settings' checks;
    it replaces S3's own answer ("NoSuchBucket ... PutObject"), which names neither the bucket, nor
    the setting, nor how to make the bucket.
    """

    def __init__(self, bucket: str, region: str | None) -> None:
        setup = f"covalent-braket setup{f' --region {region}' if region else ''} --bucket {bucket}"
        super().__init__(
            f"s3_bucket_name: there is no S3 bucket {bucket!r}. Create it with `{setup}` (which also "
            "makes the ECR repository and the job role, and names them in covalent.conf), or set "
            "s3_bucket_name in [executors.braket] of covalent.conf (or BraketExecutor(s3_bucket_name=...)) "
            "to an existing amazon-braket-* bucket."
        )
        self.bucket = bucket
