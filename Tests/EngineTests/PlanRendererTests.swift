import Engine
import Testing

@Suite struct PlanRendererTests {
    static let plan = Plan([
        Resource(ResourceID("libvirt_domain", "cpro0007"), action: .update,
                 changes: [PropertyChange("memory", from: "2 GiB", to: "4 GiB", note: "live")]),
        Resource(ResourceID("nat_pair", "cpro0051"), action: .create, summary: "203.0.113.8 ⇄ 10.0.0.8"),
        Resource(ResourceID("firewall_rule", "cpro0007-ftp"), action: .delete),
    ] + (0..<57).map { Resource(ResourceID("firewall_rule", "r\($0)"), action: nil) })

    @Test func rendersTheIssueExampleExactly() {
        #expect(PlanRenderer(color: false).render(Self.plan) == """
            - firewall_rule[cpro0007-ftp]
            ~ libvirt_domain[cpro0007]
                memory: 2 GiB → 4 GiB (live)
            + nat_pair[cpro0051]  203.0.113.8 ⇄ 10.0.0.8
            Plan: 1 to add, 1 to change, 1 to remove, 57 unchanged.
            """)
    }

    @Test func coloursOnlyWhenAsked() {
        let coloured = PlanRenderer(color: true).render(Self.plan)
        #expect(coloured.contains("\u{1B}[31m- firewall_rule[cpro0007-ftp]\u{1B}[0m"))
        #expect(coloured.contains("\u{1B}[32m+ nat_pair[cpro0051]\u{1B}[0m"))
        #expect(!PlanRenderer(color: false).render(Self.plan).contains("\u{1B}"))
    }

    @Test func createdResourcesWithoutSummaryListTheirProperties() {
        let plan = Plan([Resource(ResourceID("dhcp_host", "printer01"), action: .create,
                                  changes: [PropertyChange("ip", from: nil, to: "10.0.0.200")])])
        #expect(PlanRenderer(color: false).render(plan) == """
            + dhcp_host[printer01]
                ip: 10.0.0.200
            Plan: 1 to add, 0 to change, 0 to remove, 0 unchanged.
            """)
    }

    @Test func conflictsAreShownAndCounted() {
        let plan = Plan([Resource(ResourceID("libvirt_domain", "web"), action: .create, conflict: "a domain named web exists and is not managed by reconcile")])
        #expect(PlanRenderer(color: false).render(plan) == """
            ! libvirt_domain[web]  conflict: a domain named web exists and is not managed by reconcile
            Plan: 0 to add, 0 to change, 0 to remove, 0 unchanged, 1 conflict.
            """)
    }
}
