"""FetchError: the one exception the web package raises for a URL it could not fetch.

`kind` is a short stable string (one of the constants below, or `http_<status>`) so that
pipelines can count and route failures without parsing messages.
"""

BAD_SCHEME = "bad_scheme"
BAD_URL = "bad_url"
BLOCKED_ADDRESS = "blocked_address"
DNS = "dns"
ROBOTS_DISALLOWED = "robots_disallowed"
TIMEOUT = "timeout"
CONNECTION = "connection"
TRUNCATED = "truncated"
TOO_LARGE = "too_large"
REDIRECT_LOOP = "redirect_loop"
TOO_MANY_REDIRECTS = "too_many_redirects"
# Raised by callers that check Page.content_type / DownloadResult.content_type, never by HttpClient.
WRONG_CONTENT_TYPE = "wrong_content_type"

HTTP_KIND_PREFIX = "http_"


def http_status_kind(status: int) -> str:
    """Kind for a final non-success HTTP status, e.g. 404 -> "http_404"."""
    return f"{HTTP_KIND_PREFIX}{status}"


class FetchError(Exception):
    """A URL could not be fetched; `kind` says why, `detail` explains it to a human."""

    def __init__(self, kind: str, url: str, detail: str, status: int | None = None):
        super().__init__(f"{url}: {detail} [{kind}]")
        self.kind = kind
        self.url = url
        self.detail = detail
        self.status = status

    def __reduce__(self):
        # Exceptions unpickle by calling cls(*self.args); replay the real constructor arguments
        # so errors survive being shipped between worker processes.
        return (type(self), (self.kind, self.url, self.detail, self.status))
