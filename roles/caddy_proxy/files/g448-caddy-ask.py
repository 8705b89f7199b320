# Copyright: (c) 2026, g448 platform team
# Apache License 2.0 (see LICENSE)
"""On-demand TLS "ask" endpoint of g448.devenv.caddy_proxy (acme mode).

Caddy asks GET /approve?domain=NAME before it requests a certificate for NAME
at a TLS handshake (https://caddyserver.com/docs/automatic-https#on-demand-tls).
This server answers:

  200  NAME is the site host, or a workspace-app name under the wildcard in
       Coder's subdomain format ({app}[--{agent}]--{workspace}--{user}, with an
       optional "{prefix}---"; a port needs the agent), within the rate limit;
  403  any other name (not ours, malformed, a label over 63 characters);
  429  a valid name that was not approved before, when --rate-limit new names
       were approved in the last --window seconds.

A name approved once is approved again without counting (Caddy asks again at
renewals and restarts). The format follows upstream Coder's
coderd/workspaceapps/appurl/appurl.go (ParseSubdomainAppURL and
CompileHostnamePattern). Standard library only; listens on loopback only.
"""

import argparse
import collections
import http.server
import re
import sys
import threading
import time
import urllib.parse

# One part of an app name: letters, digits and single inner hyphens (Coder's
# username rule, which appurl.go reuses for every part).
_NAME = "[a-z0-9]+(?:-[a-z0-9]+)*"
APP_NAME = re.compile(r"^(%s)(?:--(%s))?--(%s)--(%s)\Z" % (_NAME, _NAME, _NAME, _NAME))
PORT = re.compile(r"^[0-9]{4,5}s?\Z")
PREFIX_PART = re.compile(r"^[a-z0-9]+(?:--?[a-z0-9]+)*\Z")
LABEL = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\Z")
# Approved names remembered (the oldest are forgotten first).
REMEMBERED = 10000


def is_host_name(name):
    """True for a lower-case DNS name of RFC 1123 labels of at most 63 characters."""
    return 0 < len(name) <= 253 and all(LABEL.match(label) for label in name.split("."))


def is_app_name(label):
    """True when `label` is in Coder's subdomain-app format, with an optional prefix."""
    parts = label.split("---")
    if any(not PREFIX_PART.match(part) for part in parts[:-1]):
        return False
    match = APP_NAME.match(parts[-1])
    if not match:
        return False
    # A port (8080, 8443s) needs the agent name; an app slug does not.
    return not (PORT.match(match.group(1)) and match.group(2) is None)


def wildcard_pattern(wildcard):
    """CODER_WILDCARD_ACCESS_URL's host ("*.apps.example" or "*--apps.example") as a regex; group 1 is the app label."""
    wildcard = wildcard.strip().lower()
    if wildcard.count("*") != 1 or not wildcard.startswith("*") or not is_host_name("a" + wildcard[1:]):
        raise ValueError("the wildcard host must be '*' then a host name suffix, e.g. *.coder.example.com: %r" % wildcard)
    return re.compile("^" + re.escape(wildcard).replace(r"\*", "([^.]+)", 1) + r"\Z")


class Approver:
    """Decides on names; thread-safe."""

    def __init__(self, site_host, wildcard, rate_limit, window, clock=time.monotonic):
        self.site_host = site_host.strip().lower()
        self.wildcard = wildcard_pattern(wildcard)
        self.rate_limit = rate_limit
        self.window = window
        self.clock = clock
        self.approved = collections.OrderedDict()
        self.recent = collections.deque()
        self.lock = threading.Lock()
        self.limited_logged = False

    def valid(self, name):
        if name == self.site_host:
            return True
        if not is_host_name(name):
            return False
        match = self.wildcard.match(name)
        return bool(match) and is_app_name(match.group(1))

    def decide(self, name):
        """Return (status, why) for a name as Caddy sends it."""
        name = name.lower()
        if not self.valid(name):
            return 403, "refused"
        if name == self.site_host:
            return 200, "approved"
        with self.lock:
            if name in self.approved:
                self.approved.move_to_end(name)
                return 200, "approved"
            now = self.clock()
            while self.recent and now - self.recent[0] >= self.window:
                self.recent.popleft()
            if len(self.recent) >= self.rate_limit:
                if not self.limited_logged:
                    self.limited_logged = True
                    log("rate limit reached: %d new names in %ds, refusing new names for now" % (self.rate_limit, self.window))
                return 429, "rate limited"
            self.limited_logged = False
            self.recent.append(now)
            self.approved[name] = True
            if len(self.approved) > REMEMBERED:
                self.approved.popitem(last=False)
        log("approved a new name: %s" % name)
        return 200, "approved"


def log(message):
    print(message, file=sys.stderr, flush=True)


class Handler(http.server.BaseHTTPRequestHandler):
    approver = None
    server_version = "g448-caddy-ask"
    sys_version = ""

    def do_GET(self):  # pylint: disable=invalid-name
        url = urllib.parse.urlsplit(self.path)
        if url.path != "/approve":
            self.answer(404, "not found")
            return
        domains = urllib.parse.parse_qs(url.query, keep_blank_values=True).get("domain", [""])
        if len(domains) != 1:
            self.answer(403, "refused")
            return
        self.answer(*self.approver.decide(domains[0]))

    def answer(self, status, text):
        body = (text + "\n").encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):  # pylint: disable=arguments-differ
        # Every handshake with a stranger's name would log a line; decide() logs what matters.
        pass


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--site-host", required=True)
    parser.add_argument("--wildcard-host", required=True)
    parser.add_argument("--rate-limit", type=int, required=True, help="new names approved per window")
    parser.add_argument("--window", type=int, default=60, help="seconds")
    args = parser.parse_args(argv)
    if args.rate_limit < 1 or args.window < 1:
        parser.error("--rate-limit and --window must be at least 1")
    Handler.approver = Approver(args.site_host, args.wildcard_host, args.rate_limit, args.window)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.daemon_threads = True
    log("ask endpoint on 127.0.0.1:%d for %s and %s, at most %d new names per %ds"
        % (args.port, args.site_host, args.wildcard_host, args.rate_limit, args.window))
    server.serve_forever()


if __name__ == "__main__":
    main()
