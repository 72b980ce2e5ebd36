import Basics

extension PlanRenderer {
    /// `--show-commands`: what apply will do, batch by batch, exactly as the providers do it
    /// (see ``PlanEffects``). A file that replaces another shows as a unified diff against it;
    /// anything else shows what it sends (a program's standard input, XML).
    ///
    /// ```
    /// Commands:
    ///   nftables:
    ///     nft -f -
    ///       add chain inet reconcile RC-VM-cpro0007
    ///   dhcpd:
    ///     write /etc/dhcp/reconcile-hosts.conf
    ///       @@ -4,3 +4,9 @@
    /// ```
    public func commands(_ planned: PlanEffects) -> String {
        var lines = ["Commands:"]
        for batch in planned.batches where !batch.effects.isEmpty {
            lines.append("  \(batch.provider):")
            for effect in batch.effects {
                lines.append("    " + (effect.action + (effect.alongside ? "  (at the same time)" : "")).escapingControlCharacters)
                var body = effect.input
                if let previous = effect.replacing {
                    do {
                        body = try UnifiedDiff.of(previous, effect.input)
                    } catch {
                        lines.append("      (no diff: \(error); the whole new text follows)".escapingControlCharacters)
                    }
                }
                guard !body.isEmpty else { continue }
                lines += body.split(separator: "\n", omittingEmptySubsequences: false).dropLast(body.hasSuffix("\n") ? 1 : 0)
                    .map { "      " + String($0).escapingControlCharacters }
            }
        }
        return lines.count == 1 ? "Commands: none" : lines.joined(separator: "\n")
    }
}
