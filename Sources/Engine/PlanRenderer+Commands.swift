import Basics

extension PlanRenderer {
    /// `--show-commands`: what apply would run, each step once, in plan order. A step that
    /// replaces something (a hosts file, a domain definition) shows as a unified diff against
    /// what is there; any other shows its input (restore lines, `ip` lines, volume XML).
    ///
    /// ```
    /// Commands:
    ///   iptables.chain filter/RC-VM-cpro0007
    ///       -A RC-VM-cpro0007 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
    ///   dhcpd.hosts-file /etc/dhcp/reconcile-hosts.conf
    ///       @@ -4,3 +4,9 @@
    /// ```
    public func commands(_ plan: Plan) -> String {
        var seen: Set<String> = []
        var lines = ["Commands:"]
        for resource in plan.resources where resource.action != nil && resource.conflict == nil {
            for step in resource.steps where seen.insert(step.key).inserted {
                lines.append("  " + step.title.escapingControlCharacters)
                var body = step.body ?? ""
                if let previous = step.previous, let input = step.body {
                    do {
                        body = try UnifiedDiff.of(previous, input)
                    } catch {
                        lines.append("      (no diff: \(error); the whole new text follows)".escapingControlCharacters)
                    }
                }
                lines += body.split(separator: "\n").map { "      " + String($0).escapingControlCharacters }
            }
        }
        return lines.count == 1 ? "Commands: none" : lines.joined(separator: "\n")
    }
}
