#include <stdint.h>
#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <libnetfilter_conntrack/libnetfilter_conntrack.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nf_tables.h>
#include <libnftnl/common.h>
#include <libnftnl/gen.h>

/* setns(2) with CLONE_NEWNET: glibc declares it only under _GNU_SOURCE, which Swift's
   Glibc module is not built with. The calling thread joins the namespace of `fd`. */
int setns(int fd, int nstype);
static inline int reconcile_enter_network_namespace(int fd) { return setns(fd, 0x40000000 /* CLONE_NEWNET */); }

/* SO_NETNS_COOKIE (Linux 5.14): a number no other network namespace gets until reboot. */
static const int reconcile_so_netns_cookie = 71;
