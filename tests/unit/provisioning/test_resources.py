from botocore.exceptions import ClientError

from covalent_braket_plugin.provisioning.resources import not_found, same_document


def _error(code: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": "m"}}, "Op")


def test_documents_compare_by_content_whatever_their_form_or_key_order() -> None:
    policy = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject"}]}
    text = '{"Statement": [{"Action": "s3:GetObject", "Effect": "Allow"}], "Version": "2012-10-17"}'
    assert same_document(policy, text)
    assert same_document(text, policy)
    assert not same_document(policy, {**policy, "Version": "2008-10-17"})


def test_not_found_codes_of_each_service_are_recognised_and_others_are_not() -> None:
    for code in ("NoSuchEntity", "ResourceNotFoundException", "NoSuchEntityException", "QueueDoesNotExist",
                 "AWS.SimpleQueueService.NonExistentQueue"):
        assert not_found(_error(code))
    for code in ("AccessDenied", "ThrottlingException", "NoSuchBucket"):
        assert not not_found(_error(code))
