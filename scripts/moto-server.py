#!/usr/bin/env python3
"""Run moto's S3 server for bucketfs tests and the demo.

Usage: moto-server.py [-H HOST] [-p PORT]     (as `python3 -m moto.server -H HOST -p PORT`)

Beside stock moto 5.2.1 this adds:
 * a watchdog: when the process that started us dies (a test runner killed with -9, a demo
   shell closed), the server exits too, so no test ever leaves a server behind;
 * five fixes, so that the server behaves like a real S3 server and no workaround for moto
   is needed in bucketfs itself (the first three as ../shared/bench/motolog.py, the benchmark's server, has them):
   - GET/HEAD ?versionId=null on a never-versioned bucket is served as the object (moto: 400;
     rclone asks for it after every multipart upload);
   - a ranged GET reads only the range from the object's buffer (moto reads the whole object
     for each one, about 0.3 s per request for a 512 MiB object);
   - an object's ETag is computed under the object's lock (moto races a LIST or HEAD against
     the PUT and can cache the MD5 of the wrong bytes);
   - If-Match on CompleteMultipartUpload is checked (moto checks it on PutObject only), so
     conditional multipart uploads are refused with 412 as on S3;
   - If-Match / If-None-Match on CopyObject (the target) and an ETag per key in DeleteObjects
     are checked (moto ignores both), so conditional copies and deletes are refused as on S3;
 * signature checks, when BUCKETFS_MOTO_CREDENTIALS is set: a JSON list of
   {"id": ACCESS_KEY_ID, "secret": SECRET_ACCESS_KEY, "token": SESSION_TOKEN (optional)}.
   Each becomes an IAM user's key (with a token: an assumed role's temporary credentials),
   allowed everything; every signed request must then be signed with one of them (SigV4, the
   secret included) or is refused as S3 does (InvalidAccessKeyId, SignatureDoesNotMatch,
   InvalidToken). Unsigned requests are anonymous, as on S3: object ACLs decide (moto's own
   check). Without the variable moto accepts any signature, as stock moto does. (moto checks a
   signature against the URL as werkzeug decoded it: a key with a literal '%' is refused.)
"""
import argparse
import json
import os
import signal
import sys
import threading
import time
import types


def watch_parent(parent: int) -> None:
    while True:
        if os.getppid() != parent:
            os._exit(0)
        time.sleep(0.5)


# --- GET/HEAD ?versionId=null --------------------------------------------------------------

class VersionIdNull:
    """WSGI middleware: drop `versionId=null` from GET/HEAD queries. Real S3 (and MinIO etc.)
    treat it as "the null version", which is the object itself on a never-versioned bucket."""

    def __init__(self, app):
        self.app = app

    def __call__(self, environ, start_response):
        q = environ.get("QUERY_STRING", "")
        if environ.get("REQUEST_METHOD") in ("GET", "HEAD") and "versionId=null" in q.split("&"):
            newq = "&".join(x for x in q.split("&") if x != "versionId=null")
            environ["QUERY_STRING"] = newq
            for k in ("REQUEST_URI", "RAW_URI"):
                if k in environ:
                    environ[k] = environ[k].replace("?" + q, ("?" + newq) if newq else "")
        return self.app(environ, start_response)


# --- ranged GET ----------------------------------------------------------------------------

_tls = threading.local()


class _LazyValue:
    """Stands in for FakeKey.value during a ranged GET: slicing reads only the range."""

    def __init__(self, key):
        self.key = key
        self.n = key.size

    def __len__(self):
        return self.n

    def __bool__(self):
        return self.n > 0

    def __getitem__(self, sl):
        if not isinstance(sl, slice):
            raise TypeError("lazy object value supports slices only")
        start, stop, step = sl.indices(self.n)
        if step != 1:
            raise TypeError("lazy object value supports step 1 only")
        return _LazySlice(self.key, start, max(start, stop))

    def __iter__(self):
        return iter(_LazySlice(self.key, 0, self.n))


class _LazySlice:
    """A byte range of an object, read from its buffer 256 KiB at a time while the response is
    being sent (so a client that hangs up early stops the reading, as with a real server)."""

    CHUNK = 256 << 10

    def __init__(self, key, start, stop):
        self.key, self.start, self.stop = key, start, stop

    def __len__(self):
        return self.stop - self.start

    def __bool__(self):
        return self.stop > self.start

    def read(self, pos, n):
        with self.key.lock:
            self.key._value_buffer.seek(pos)
            return self.key._value_buffer.read(n)

    def __bytes__(self):
        return self.read(self.start, self.stop - self.start)

    def __iter__(self):
        pos = self.start
        while pos < self.stop:
            chunk = self.read(pos, min(self.CHUNK, self.stop - pos))
            if not chunk:
                break
            pos += len(chunk)
            yield chunk


def patch_ranged_get():
    """Serve a single-range GET from the object's buffer instead of reading it all."""
    from moto.s3.models import FakeKey
    from moto.s3.responses import S3Response

    orig_value = FakeKey.value
    orig_get = S3Response.get_object

    def value_get(self):
        if getattr(_tls, "lazy", False):
            return _LazyValue(self)
        return orig_value.fget(self)

    def get_object(self):
        rng = self.headers.get("range") or ""
        if rng.startswith("bytes=") and "," not in rng:
            _tls.lazy = True
            try:
                return orig_get(self)
            finally:
                _tls.lazy = False
        return orig_get(self)

    FakeKey.value = property(value_get, orig_value.fset)
    S3Response.get_object = get_object


# --- ETag under the key's lock -------------------------------------------------------------

def patch_etag_lock():
    """moto computes an object's ETag by seeking and reading its shared buffer without the key's
    lock, and caches it: a LIST or HEAD racing a PUT can cache the MD5 of the wrong bytes."""
    from moto.s3.models import FakeKey

    orig = FakeKey.etag

    def etag(self):
        lock = getattr(self, "lock", None)
        if lock is None or self._etag is not None:
            return orig.fget(self)
        with lock:
            return orig.fget(self)

    FakeKey.etag = property(etag)


# --- If-Match on CompleteMultipartUpload ---------------------------------------------------

def patch_complete_if_match():
    """moto checks If-None-Match: * on CompleteMultipartUpload but ignores If-Match there (it
    checks both on PutObject). S3 refuses with 412 PreconditionFailed when the object's ETag is no
    longer the one given, and with 404 NoSuchKey when there is no object."""
    from moto.s3.exceptions import MissingKey, PreconditionFailed
    from moto.s3.responses import S3Response

    orig = S3Response._key_response_post

    def _key_response_post(self, request, body, bucket_name, query, key_name):
        if_match = request.headers.get("If-Match")
        if if_match and query.get("uploadId"):
            existing = self.backend.get_object(bucket_name, key_name)
            done = existing is not None and existing.multipart and existing.multipart.id == query["uploadId"][0]
            if not done:
                if existing is None:
                    raise MissingKey(key=key_name)
                if if_match.replace('"', "") != existing.etag.replace('"', ""):
                    raise PreconditionFailed("If-Match")
        return orig(self, request, body, bucket_name, query, key_name)

    S3Response._key_response_post = _key_response_post


# --- conditional CopyObject and DeleteObjects -------------------------------------------------

def patch_conditional_copy_delete():
    """S3 takes If-Match / If-None-Match on CopyObject (for the target: copy only over that
    version, or only where nothing is) and an ETag per key in DeleteObjects (delete only that
    version; otherwise a PreconditionFailed error for the key); moto 5.2.1 ignores both (it checks
    If-Match on DeleteObject only)."""
    import xmltodict
    from moto.s3.exceptions import MissingKey, PreconditionFailed
    from moto.s3.responses import S3Response

    def same(a, b):
        return a.replace('"', "") == b.replace('"', "")

    orig_copy = S3Response.copy_object

    def copy_object(self):
        key_name = self.parse_key_name()
        existing = self.backend.get_object(self.bucket_name, key_name)
        if_match = self.headers.get("If-Match")
        if if_match:
            if existing is None:
                raise MissingKey(key=key_name)
            if not same(if_match, existing.etag):
                raise PreconditionFailed("If-Match")
        if self.headers.get("If-None-Match") == "*" and existing is not None:
            raise PreconditionFailed("If-None-Match")
        return orig_copy(self)

    S3Response.copy_object = copy_object

    orig_delete = S3Response._bucket_response_delete_keys

    def delete_keys(self, bucket_name, authenticated=True):
        body = xmltodict.parse(self.body, strip_whitespace=False)
        objects = body["Delete"].get("Object", [])
        if not isinstance(objects, list):
            objects = [objects]
        refused, rest = [], []
        for o in objects:
            etag = o.get("ETag") if isinstance(o, dict) else None
            existing = self.backend.get_object(bucket_name, o["Key"]) if etag else None
            if etag and existing is not None and not same(etag, existing.etag):
                refused.append(o["Key"])
            else:
                rest.append(o)
        if not refused:
            return orig_delete(self, bucket_name, authenticated)
        errors = [{"Key": k, "Code": "PreconditionFailed", "Message": "At least one of the pre-conditions you specified did not hold"} for k in refused]
        if not rest:
            from moto.core.responses import ActionResult
            self.data["Action"] = "DeleteObjects"
            return self.serialized(ActionResult({"Deleted": [], "Errors": errors}))
        body["Delete"]["Object"] = rest
        self.body = xmltodict.unparse(body).encode()
        orig_serialized = self.serialized

        def serialized(result):
            result.result["Errors"] = list(result.result.get("Errors", [])) + errors
            return orig_serialized(result)

        self.serialized = serialized
        try:
            return orig_delete(self, bucket_name, authenticated)
        finally:
            del self.serialized

    S3Response._bucket_response_delete_keys = delete_keys


# --- signature checks ----------------------------------------------------------------------

ALLOW_ALL = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]})


def enable_signature_checks(credentials):
    """Register `credentials` with moto's IAM (and STS, for those with a session token) and turn
    on moto's request authentication for every request (INITIAL_NO_AUTH_ACTION_COUNT = 0)."""
    from moto import settings
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.core.authorization import ActionAuthenticatorMixin
    from moto.iam.models import iam_backends
    from moto.sts.models import sts_backends

    iam = iam_backends[DEFAULT_ACCOUNT_ID]["aws"]
    sts = sts_backends[DEFAULT_ACCOUNT_ID]["aws"]
    role = None
    for i, c in enumerate(credentials):
        if c.get("token"):
            if role is None:
                trust = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"}]})
                role = iam.create_role("bucketfs-test-role", trust, "/", None, "", [], None)
                iam.put_role_policy("bucketfs-test-role", "all", ALLOW_ALL)
            # what AssumedRoleAccessKey reads of an assumed role
            sts.assumed_roles.append(types.SimpleNamespace(
                access_key_id=c["id"], secret_access_key=c["secret"], session_token=c["token"],
                role_arn=role.arn, session_name=f"bucketfs-test-{i}"))
        else:
            name = f"bucketfs-test-{i}"
            iam.create_user("us-east-1", name)
            iam.put_user_policy(name, "all", ALLOW_ALL)
            key = iam.create_access_key(name)
            del iam.access_keys[key.physical_resource_id]
            key.access_key_id = c["id"]
            key.secret_access_key = c["secret"]
            iam.access_keys[key.physical_resource_id] = key

    orig = ActionAuthenticatorMixin._authenticate_and_authorize_action

    def authenticate(self, iam_request_cls, resource="*"):
        # an unsigned request is anonymous: S3 lets ACLs and policies decide, never refuses it
        # for its (absent) signature; moto would fail on the missing Authorization header
        if "Authorization" not in self.headers:
            return None
        return orig(self, iam_request_cls, resource)

    ActionAuthenticatorMixin._authenticate_and_authorize_action = authenticate

    # moto recomputes the signature over the path and query as they arrived (`prefix=dir/`),
    # where SigV4 (and every SDK) signs their URI-encoded forms (`prefix=dir%2F`): encode them
    # the same way
    from urllib.parse import quote, unquote, urlsplit, urlunsplit
    from moto.iam.access_control import IAMRequestBase

    orig_request = IAMRequestBase._create_aws_request

    def enc(x):
        return quote(unquote(x), safe="-_.~")

    def create_aws_request(self):
        request = orig_request(self)
        parts = urlsplit(request.url)
        path = "/".join(enc(seg) for seg in parts.path.split("/"))
        query = parts.query
        if query:
            pairs = (p.partition("=") for p in query.split("&"))
            query = "&".join(f"{enc(k)}={enc(v)}" for k, _, v in pairs)
        request.url = urlunsplit(parts._replace(path=path, query=query))
        return request

    IAMRequestBase._create_aws_request = create_aws_request
    settings.INITIAL_NO_AUTH_ACTION_COUNT = 0


def main() -> None:
    parent = os.getppid()
    threading.Thread(target=watch_parent, args=(parent,), daemon=True).start()
    parser = argparse.ArgumentParser()
    parser.add_argument("-H", "--host", default="127.0.0.1")
    parser.add_argument("-p", "--port", type=int, default=int(os.environ.get("MOTO_PORT", 5000)))
    args = parser.parse_args(sys.argv[1:])
    os.environ.setdefault("MOTO_PORT", str(args.port))

    from werkzeug.serving import run_simple
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

    patch_ranged_get()
    patch_etag_lock()
    patch_complete_if_match()
    patch_conditional_copy_delete()
    creds = os.environ.get("BUCKETFS_MOTO_CREDENTIALS")
    if creds:
        enable_signature_checks(json.loads(creds))

    def stop(signum, frame):
        sys.exit(0)

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    app = DomainDispatcherApplication(create_backend_app)
    app.debug = True
    run_simple(args.host, args.port, VersionIdNull(app), threaded=True)


if __name__ == "__main__":
    main()
