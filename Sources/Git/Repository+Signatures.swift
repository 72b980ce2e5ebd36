import CLibgit2
import Foundation

extension Repository {
    /// A commit's signature (its `gpgsig` header: OpenPGP or SSH armour) and the exact bytes
    /// it signs (the commit object without that header), as libgit2 extracts them.
    public struct SignedCommit: Sendable {
        public var signature: String
        public var signedData: Data
    }

    /// The signature of `commitID`; nil when the commit is not signed.
    public func signature(of commitID: String) throws(GitError) -> SignedCommit? {
        var oid = git_oid()
        try GitError.check(git_oid_fromstr(&oid, commitID), "parse \(commitID)")
        var signature = git_buf(), signed = git_buf()
        defer {
            git_buf_dispose(&signature)
            git_buf_dispose(&signed)
        }
        let code = git_commit_extract_signature(&signature, &signed, handle, &oid, nil)
        if code == GIT_ENOTFOUND.rawValue { return nil }
        try GitError.check(code, "read the signature of \(commitID)")
        return SignedCommit(signature: String(decoding: Data(bytes: signature.ptr, count: signature.size), as: UTF8.self),
                            signedData: Data(bytes: signed.ptr, count: signed.size))
    }

    /// The commits reachable from `head` and not from `base`, newest first: what a branch
    /// gained since `base` was applied, merges included. When `base` is no ancestor of `head`
    /// (a force-push dropped it), these are the commits since their merge base.
    /// - Parameter limit: more commits than this is an error (a mirror of another history).
    public func commits(since base: String, to head: String, limit: Int) throws(GitError) -> [String] {
        var walk: OpaquePointer?
        try GitError.check(git_revwalk_new(&walk, handle), "walk the history")
        defer { git_revwalk_free(walk) }
        var headID = git_oid(), baseID = git_oid()
        try GitError.check(git_oid_fromstr(&headID, head), "parse \(head)")
        try GitError.check(git_oid_fromstr(&baseID, base), "parse \(base)")
        try GitError.check(git_revwalk_push(walk, &headID), "walk from \(head)")
        try GitError.check(git_revwalk_hide(walk, &baseID), "walk past \(base)")
        var commits: [String] = []
        var next = git_oid()
        while true {
            let code = git_revwalk_next(&next, walk)
            if code == GIT_ITEROVER.rawValue { break }
            try GitError.check(code, "walk from \(head) to \(base)")
            guard commits.count < limit else {
                throw GitError(operation: "walk from \(head.prefix(12)) to \(base.prefix(12))", message: "more than \(limit) commits", isNotFound: false)
            }
            commits.append(String(cString: git_oid_tostr_s(&next)))
        }
        return commits
    }

    /// Whether the mirror holds `commitID`.
    public func contains(_ commitID: String) -> Bool {
        var oid = git_oid()
        guard git_oid_fromstr(&oid, commitID) == 0 else { return false }
        var commit: OpaquePointer?
        defer { git_commit_free(commit) }
        return git_commit_lookup(&commit, handle, &oid) == 0
    }
}
