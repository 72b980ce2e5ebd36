import Basics
import Foundation
import Testing
import TestSupport

/// `--repo http(s)://user@host/…` with `--password-file`: git's own http-backend behind a
/// server that demands HTTP basic authentication, in a network namespace of the test's own.
/// A password in the URL is refused before it is stored or shown anywhere.
@Suite(.serialized) struct GitHTTPTests {
    /// Serves `git http-backend` (CGI) for ROOT to USER:PASSWORD only.
    static let server = #"""
        import base64, os, subprocess, sys
        from http.server import BaseHTTPRequestHandler, HTTPServer
        root, user, password, port = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
        expected = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            def do_GET(self): self.serve()
            def do_POST(self): self.serve()
            def body(self):
                if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                    data = b""
                    while True:
                        size = int(self.rfile.readline().strip().split(b";")[0], 16)
                        if size == 0:
                            self.rfile.readline()
                            return data
                        data += self.rfile.read(size)
                        self.rfile.readline()
                return self.rfile.read(int(self.headers.get("Content-Length") or 0))
            def serve(self):
                body = self.body()
                if self.headers.get("Authorization") != expected:
                    self.send_response(401)
                    self.send_header("WWW-Authenticate", 'Basic realm="git"')
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                path, _, query = self.path.partition("?")
                env = dict(os.environ, GIT_PROJECT_ROOT=root, GIT_HTTP_EXPORT_ALL="1", PATH_INFO=path, QUERY_STRING=query,
                           REQUEST_METHOD=self.command, CONTENT_TYPE=self.headers.get("Content-Type", ""),
                           CONTENT_LENGTH=str(len(body)), REMOTE_USER=user, GIT_PROTOCOL=self.headers.get("Git-Protocol", ""))
                out = subprocess.run(["git", "http-backend"], input=body, env=env, capture_output=True).stdout
                head, _, rest = out.partition(b"\r\n\r\n")
                status, headers = 200, []
                for line in head.split(b"\r\n"):
                    key, _, value = line.decode().partition(":")
                    if key.lower() == "status": status = int(value.strip().split()[0])
                    elif key: headers.append((key, value.strip()))
                self.send_response(status)
                for key, value in headers: self.send_header(key, value)
                self.send_header("Content-Length", str(len(rest)))
                self.end_headers()
                self.wfile.write(rest)
        HTTPServer(("127.0.0.1", port), Handler).serve_forever()
        """#

    @Test func aPasswordComesFromAFileAndIsNeverStoredOrShown() throws {
        let fixture = try DaemonFixture()
        let lab = NetworkLab()
        let namespace = try lab.namespace("http")
        let shell = CommandRunner()
        try shell.run(["git", "clone", "-q", "--bare", fixture.path("repo"), fixture.path("served/cloud.git")])
        try Self.server.write(toFile: fixture.path("server.py"), atomically: true, encoding: .utf8)
        try lab.spawn(namespace, ["python3", fixture.path("server.py"), fixture.path("served"), "alice", "S3cretPassw0rd", "8088"])
        #expect(fixture.waitUntil(5) { (try? lab.exec(namespace, "nc", "-z", "127.0.0.1", "8088")) != nil })
        try "S3cretPassw0rd\n".write(toFile: fixture.path("password"), atomically: true, encoding: .utf8)
        try "wrong\n".write(toFile: fixture.path("wrong"), atomically: true, encoding: .utf8)
        let inNamespace = CommandRunner(netns: namespace)
        func reconcile(_ url: String, _ arguments: [String] = []) throws -> CommandRunner.Output {
            try inNamespace.output([ReconcileBinary.path, "--dry-run", "--repo", url, "--state-dir", fixture.state] + arguments)
        }

        let inURL = try reconcile("http://alice:S3cretPassw0rd@127.0.0.1:8088/cloud.git")
        #expect(inURL.status == 64)
        #expect(inURL.stderr.contains("--password-file") && !(inURL.stdout + inURL.stderr).contains("S3cret"))
        #expect(!FileManager.default.fileExists(atPath: fixture.state))

        let url = "http://alice@127.0.0.1:8088/cloud.git"
        let none = try reconcile(url)
        #expect(none.status == 69 && none.stderr.contains("give it with --password-file"), "\(none.stderr)")
        let wrong = try reconcile(url, ["--password-file", fixture.path("wrong")])
        #expect(wrong.status == 69 && wrong.stderr.contains("the server refused the password"), "\(wrong.stderr)")
        let plan = try reconcile(url, ["--password-file", fixture.path("password")])
        #expect(plan.status == 2, "\(plan.stdout)\(plan.stderr)")
        #expect(plan.stdout.contains("+ dhcp_host[printer01]"))

        // Nowhere in the state directory: not the mirror's config, not the run log.
        let grep = try shell.output(["grep", "-r", "-l", "S3cret", fixture.state])
        #expect(grep.status == 1 && grep.stdout.isEmpty, "\(grep.stdout)")
        let history = try ReconcileBinary.run(["history", "--state-dir", fixture.state])
        #expect(!history.stdout.contains("S3cret"))
        // The state directory and its database are the owner's only.
        #expect(try FileManager.default.attributesOfItem(atPath: fixture.state)[.posixPermissions] as? Int == 0o700)
        #expect(try FileManager.default.attributesOfItem(atPath: fixture.state + "/reconcile.sqlite")[.posixPermissions] as? Int == 0o600)
    }
}
