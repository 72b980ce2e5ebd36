import Basics
import CLibgit2
import Foundation

/// A bare mirror of the desired-state repository, kept in the state directory.
///
/// Owns a libgit2 handle: not `Sendable`, freed in `deinit`. Nothing here ever checks out a
/// working copy: files are read from the object database at a commit.
public final class Repository: @unchecked Sendable {
    let handle: OpaquePointer
    /// The origin it fetches from.
    public let url: String

    /// A commit the desired state is read at.
    public struct Commit: Sendable, Equatable {
        public var id: String
        public var author: String
        public var subject: String

        public init(id: String, author: String, subject: String) {
            self.id = id
            self.author = author
            self.subject = subject
        }
    }

    /// Opens the mirror at `path`, creating it (bare) with `url` as its origin if needed.
    public init(mirror path: String, url: String) throws(GitError) {
        _ = Self.initialized
        // The URL is stored in the mirror's config and shown in errors, run records and pages.
        if Self.holdsPassword(url) {
            throw GitError(operation: "use the repository URL", message: Self.passwordInURLMessage, isNotFound: false)
        }
        self.url = url
        var repository: OpaquePointer?
        // Only "not found" means "create it": a mirror that exists but cannot be opened
        // (permissions, corruption) is an error, not a reason to start a new one over it.
        do {
            try GitError.check(git_repository_open_bare(&repository, path), "open mirror \(path)")
        } catch where error.isNotFound {
            try GitError.check(git_repository_init(&repository, path, 1), "create mirror \(path)")
        }
        guard let repository else { throw GitError(operation: "open \(path)", message: "no repository", isNotFound: false) }
        handle = repository
        var remote: OpaquePointer?
        do {
            try GitError.check(git_remote_lookup(&remote, handle, "origin"), "find origin in \(path)")
            if git_remote_url(remote).map({ String(cString: $0) }) != url {
                try GitError.check(git_remote_set_url(handle, "origin", url), "set origin to \(url)")
            }
        } catch where error.isNotFound {
            try GitError.check(git_remote_create_with_fetchspec(&remote, handle, "origin", url, "+refs/heads/*:refs/heads/*"),
                               "add origin \(url)")
            try GitError.check(git_remote_add_fetch(handle, "origin", "+refs/tags/*:refs/tags/*"), "add tag refspec")
        }
        git_remote_free(remote)
    }

    deinit { git_repository_free(handle) }

    /// One open mirror per path for the whole process: opening a repository again and again
    /// (a daemon's every tick) grows libgit2's memory without bound. Callers serialise their
    /// use of a mirror, as the state directory's lock does.
    public static func mirror(_ path: String, url: String) throws(GitError) -> Repository {
        let result = openMirrors.withLock { mirrors -> Result<Repository, GitError> in
            if let open = mirrors[path], open.url == url { return .success(open) }
            do {
                let opened = try Repository(mirror: path, url: url)
                mirrors[path] = opened
                return .success(opened)
            } catch let error as GitError {
                return .failure(error)
            } catch {
                return .failure(GitError(operation: "open \(path)", message: "\(error)", isNotFound: false))
            }
        }
        return try result.get()
    }

    private static let openMirrors = Locked<[String: Repository]>([:])

    /// Whether `url` carries a password (`https://user:secret@host/…`).
    public static func holdsPassword(_ url: String) -> Bool {
        URLComponents(string: url)?.password != nil
    }

    public static let passwordInURLMessage =
        "the repository URL holds a password, which would be stored and shown wherever the URL is; "
        + "give the URL without it (https://user@host/repo.git) and the password in a file with --password-file"

    /// libgit2 wants one global initialisation per process.
    private static let initialized: Void = { git_libgit2_init() }()

    /// Fetches every branch and tag from origin, following force-pushes and pruning deleted
    /// refs. Over ssh it logs in with `sshKey` (a private key file) as the URL's user, and
    /// only to a server whose host key `knownHosts` lists; over http(s) with `password` as
    /// the URL's user when the server asks.
    public func fetch(sshKey: String? = nil, knownHosts: KnownHosts? = nil, password: String? = nil) throws(GitError) {
        var remote: OpaquePointer?
        try GitError.check(git_remote_lookup(&remote, handle, "origin"), "find origin")
        defer { git_remote_free(remote) }
        var options = git_fetch_options()
        try GitError.check(git_fetch_options_init(&options, UInt32(GIT_FETCH_OPTIONS_VERSION)), "prepare fetch")
        options.prune = GIT_FETCH_PRUNE
        let url = git_remote_url(remote).map { String(cString: $0) } ?? "origin"
        // libgit2 calls a missing local path an "unsupported URL protocol".
        if !url.contains("://"), !url.contains(":"), !FileManager.default.fileExists(atPath: url) {
            throw GitError(operation: "fetch \(url)", message: "no repository at this path", isNotFound: true)
        }
        let hosts = if let knownHosts { knownHosts } else { try KnownHosts(path: NSHomeDirectory() + "/.ssh/known_hosts") }
        let key = RemoteAccess(keyPath: sshKey, password: password, knownHosts: hosts, port: URLComponents(string: url)?.port)
        options.callbacks.credentials = RemoteAccess.credentials
        options.callbacks.certificate_check = RemoteAccess.hostKeyCheck
        options.callbacks.payload = Unmanaged.passUnretained(key).toOpaque()
        try withExtendedLifetime(key) { () throws(GitError) in
            try GitError.check(git_remote_fetch(remote, nil, &options, "reconcile fetch"), "fetch \(url)")
        }
        // A mirror's HEAD is the remote's default branch, as the server advertised it in this
        // fetch, so `--ref HEAD` follows whatever the repository calls its main branch.
        var branch = git_buf()
        defer { git_buf_dispose(&branch) }
        if git_remote_default_branch(&branch, remote) == 0, let name = branch.ptr {
            var reference: OpaquePointer?
            if git_reference_symbolic_create(&reference, handle, "HEAD", name, 1, "reconcile: the remote's default branch") == 0 {
                git_reference_free(reference)
            }
        }
    }

    /// The commit `ref` names: a branch, a tag or a commit id (full or abbreviated).
    public func resolve(_ ref: String) throws(GitError) -> Commit {
        var object: OpaquePointer?
        var found: Int32 = -1
        for candidate in ["refs/heads/\(ref)", "refs/tags/\(ref)", ref] {
            found = git_revparse_single(&object, handle, candidate)
            if found == 0 { break }
        }
        if found != 0, ref == "HEAD" {
            throw GitError(operation: "resolve HEAD", message: "the repository advertised no default branch in the last fetch; give the branch with --ref",
                           isNotFound: true)
        }
        try GitError.check(found, "resolve \(ref)")
        defer { git_object_free(object) }
        var peeled: OpaquePointer?
        try GitError.check(git_object_peel(&peeled, object, GIT_OBJECT_COMMIT), "\(ref) is not a commit")
        defer { git_object_free(peeled) }
        guard let id = git_object_id(peeled), let hex = git_oid_tostr_s(id) else {
            throw GitError(operation: "resolve \(ref)", message: "no commit id", isNotFound: false)
        }
        let author = git_commit_author(peeled).flatMap { $0.pointee.name.map { String(cString: $0) } } ?? ""
        let subject = git_commit_summary(peeled).map { String(cString: $0) } ?? ""
        // Whoever can push writes these: they must not drive the terminal they are shown on.
        return Commit(id: String(cString: hex), author: author.escapingControlCharacters, subject: subject.escapingControlCharacters)
    }

    /// Files other than YAML larger than this are not exported: what the desired state may
    /// name besides YAML (a VM's cloud-init user data) is smaller.
    public static let exportedFileLimit = 256 << 10

    /// Writes the files of `commit`'s tree below `path` (empty: the root) into `directory`,
    /// straight from the object database: every YAML file, and the other regular files up to
    /// ``exportedFileLimit`` but symbolic links (hidden names are left out).
    public func exportDesiredState(commit: Commit, path: String, to directory: String) throws(GitError) {
        var oid = git_oid()
        try GitError.check(git_oid_fromstr(&oid, commit.id), "parse \(commit.id)")
        var commitObject: OpaquePointer?
        try GitError.check(git_commit_lookup(&commitObject, handle, &oid), "find commit \(commit.id)")
        defer { git_commit_free(commitObject) }
        var root: OpaquePointer?
        try GitError.check(git_commit_tree(&root, commitObject), "read the tree of \(commit.id)")
        defer { git_tree_free(root) }
        var tree = root
        var subtree: OpaquePointer?
        defer { git_tree_free(subtree) }
        let trimmed = path.trimmingCharacters(in: CharacterSet(charactersIn: "/"))
        if !trimmed.isEmpty {
            var entry: OpaquePointer?
            try GitError.check(git_tree_entry_bypath(&entry, root, trimmed), "find \(trimmed) at \(commit.id.prefix(12))")
            defer { git_tree_entry_free(entry) }
            guard git_tree_entry_type(entry) == GIT_OBJECT_TREE else {
                throw GitError(operation: "read \(trimmed)", message: "not a directory at \(commit.id.prefix(12))", isNotFound: false)
            }
            try GitError.check(git_tree_lookup(&subtree, handle, git_tree_entry_id(entry)), "read \(trimmed)")
            tree = subtree
        }
        try export(tree, to: directory)
    }

    /// A blob's size, from the object database's header of it.
    private func size(of entry: OpaquePointer, named name: String) throws(GitError) -> Int {
        var database: OpaquePointer?
        try GitError.check(git_repository_odb(&database, handle), "open the object database")
        defer { git_odb_free(database) }
        var length = 0
        var type = GIT_OBJECT_ANY
        try GitError.check(git_odb_read_header(&length, &type, database, git_tree_entry_id(entry)), "read the header of \(name)")
        return length
    }

    private func export(_ tree: OpaquePointer?, to directory: String) throws(GitError) {
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw GitError(operation: "create \(directory)", message: "\(error)", isNotFound: false)
        }
        for index in 0..<git_tree_entrycount(tree) {
            guard let entry = git_tree_entry_byindex(tree, index), let cName = git_tree_entry_name(entry) else { continue }
            let name = String(cString: cName)
            guard !name.hasPrefix(".") else { continue }
            let target = directory + "/" + name
            switch git_tree_entry_type(entry) {
            case GIT_OBJECT_TREE:
                var child: OpaquePointer?
                try GitError.check(git_tree_lookup(&child, handle, git_tree_entry_id(entry)), "read \(name)")
                defer { git_tree_free(child) }
                try export(child, to: target)
            case GIT_OBJECT_BLOB:
                let isYAML = name.hasSuffix(".yaml") || name.hasSuffix(".yml")
                // Another file's size is read from its header: a large one is never loaded.
                if !isYAML {
                    guard git_tree_entry_filemode(entry) != GIT_FILEMODE_LINK else { continue }
                    guard try size(of: entry, named: name) <= Self.exportedFileLimit else { continue }
                }
                var blob: OpaquePointer?
                try GitError.check(git_blob_lookup(&blob, handle, git_tree_entry_id(entry)), "read \(name)")
                defer { git_blob_free(blob) }
                let data = Data(bytes: git_blob_rawcontent(blob), count: Int(git_blob_rawsize(blob)))
                guard FileManager.default.createFile(atPath: target, contents: data) else {
                    throw GitError(operation: "write \(target)", message: "cannot create the file", isNotFound: false)
                }
            default:
                continue
            }
        }
    }
}

/// What libgit2's credential callbacks need: the ssh key or the http(s) password to log in
/// with (each offered once per fetch: a second request means the server refused it) and the
/// known hosts to check an ssh server by.
private final class RemoteAccess {
    let keyPath: String?
    let password: String?
    let knownHosts: KnownHosts
    let port: Int?
    var offered = false

    init(keyPath: String?, password: String?, knownHosts: KnownHosts, port: Int?) {
        (self.keyPath, self.password, self.knownHosts, self.port) = (keyPath, password, knownHosts, port)
    }

    static let credentials: git_credential_acquire_cb = { out, _, username, allowed, payload in
        guard let payload else { return GIT_EAUTH.rawValue }
        let access = Unmanaged<RemoteAccess>.fromOpaque(payload).takeUnretainedValue()
        let user = username.map { String(cString: $0) }
        if !access.offered, let password = access.password, allowed & GIT_CREDENTIAL_USERPASS_PLAINTEXT.rawValue != 0 {
            guard let user, !user.isEmpty else {
                git_error_set_str(Int32(GIT_ERROR_HTTP.rawValue), "the server asks for a password; name the user in the URL (https://user@host/repo.git)")
                return GIT_EAUTH.rawValue
            }
            access.offered = true
            return git_credential_userpass_plaintext_new(out, user, password)
        }
        guard let path = access.keyPath, !access.offered, allowed & GIT_CREDENTIAL_SSH_KEY.rawValue != 0 else {
            let message = access.offered ? (access.keyPath.map { "the server refused the key \($0)" } ?? "the server refused the password")
                : allowed & GIT_CREDENTIAL_USERPASS_PLAINTEXT.rawValue != 0 ? "the server asks for a password; give it with --password-file"
                : "the server asks for credentials; give an ssh:// URL with --ssh-key"
            git_error_set_str(Int32(GIT_ERROR_SSH.rawValue), message)
            return GIT_EAUTH.rawValue
        }
        access.offered = true
        return git_credential_ssh_key_new(out, user ?? "git", nil, path, nil)
    }

    /// ssh host keys must be in the known hosts; TLS certificates keep libgit2's own verdict.
    static let hostKeyCheck: git_transport_certificate_check_cb = { certificate, valid, host, payload in
        guard let certificate, let payload, certificate.pointee.cert_type == GIT_CERT_HOSTKEY_LIBSSH2 else {
            return valid != 0 ? 0 : GIT_ECERTIFICATE.rawValue
        }
        let access = Unmanaged<RemoteAccess>.fromOpaque(payload).takeUnretainedValue()
        let hostkey = UnsafeRawPointer(certificate).assumingMemoryBound(to: git_cert_hostkey.self).pointee
        let name = host.map { String(cString: $0) } ?? ""
        guard hostkey.type.rawValue & GIT_CERT_SSH_RAW.rawValue != 0, let raw = hostkey.hostkey,
              access.knownHosts.accepts(host: name, port: access.port, key: Data(bytes: raw, count: hostkey.hostkey_len))
        else {
            let shown = access.port.map { "[\(name)]:\($0)" } ?? name
            git_error_set_str(Int32(GIT_ERROR_SSH.rawValue),
                              "the host key of \(shown) is not in \(access.knownHosts.path) (add it with ssh-keyscan, after checking it)")
            return GIT_ECERTIFICATE.rawValue
        }
        return 0
    }
}
