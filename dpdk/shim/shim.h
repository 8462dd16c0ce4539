/* rvs dpdk-sys shim: one-line exported wrappers around DPDK's static-inline fast-path
 * functions and macros, which bindgen cannot bind because they have no symbol. */
#ifndef RVS_DPDK_SHIM_H
#define RVS_DPDK_SHIM_H
#include <rte_config.h>
#include <rte_common.h>
#include <rte_errno.h>
#include <rte_eal.h>
#include <rte_lcore.h>
#include <rte_cycles.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>
#include <rte_ethdev.h>
#include <rte_bus_vdev.h>
#include <rte_dev.h>
#include <rte_ring.h>
#include <rte_eth_ring.h>

uint16_t rvs_eth_rx_burst(uint16_t port, uint16_t queue, struct rte_mbuf **pkts, uint16_t n);
uint16_t rvs_eth_tx_burst(uint16_t port, uint16_t queue, struct rte_mbuf **pkts, uint16_t n);
struct rte_mbuf *rvs_pktmbuf_alloc(struct rte_mempool *mp);
int rvs_pktmbuf_alloc_bulk(struct rte_mempool *mp, struct rte_mbuf **mbufs, unsigned n);
void rvs_pktmbuf_free(struct rte_mbuf *m);
void rvs_pktmbuf_free_bulk(struct rte_mbuf **mbufs, unsigned n);
char *rvs_pktmbuf_prepend(struct rte_mbuf *m, uint16_t len);
char *rvs_pktmbuf_append(struct rte_mbuf *m, uint16_t len);
char *rvs_pktmbuf_adj(struct rte_mbuf *m, uint16_t len);
int rvs_pktmbuf_trim(struct rte_mbuf *m, uint16_t len);
uint8_t *rvs_pktmbuf_mtod(struct rte_mbuf *m);
uint16_t rvs_pktmbuf_data_len(const struct rte_mbuf *m);
uint32_t rvs_pktmbuf_pkt_len(const struct rte_mbuf *m);
uint16_t rvs_pktmbuf_headroom(const struct rte_mbuf *m);
uint16_t rvs_pktmbuf_tailroom(const struct rte_mbuf *m);
uint16_t rvs_pktmbuf_nb_segs(const struct rte_mbuf *m);
uint16_t rvs_pktmbuf_port(const struct rte_mbuf *m);
uint32_t rvs_pktmbuf_rss_hash(const struct rte_mbuf *m);
/* The TCI of a tag the NIC stripped on RX (RTE_MBUF_F_RX_VLAN_STRIPPED), -1 when none, -2 when it stripped two (QinQ). */
int32_t rvs_pktmbuf_rx_vlan(const struct rte_mbuf *m);
/* The RX L4 checksum flags: 0 unknown, 1 bad, 2 good, 3 none (integrity verified). */
int rvs_pktmbuf_rx_l4_cksum(const struct rte_mbuf *m);
int rvs_errno(void);
unsigned rvs_lcore_id(void);
uint64_t rvs_rdtsc(void);
/* Rings of mbuf pointers (the net_ring benchmark ports): burst enqueue/dequeue and the
 * fill level are static inlines in rte_ring.h; reset restores an mbuf's data offset and
 * lengths so a benchmark generator can rewrite a recycled packet from its template. */
unsigned rvs_ring_enqueue_burst(struct rte_ring *r, struct rte_mbuf **pkts, unsigned n);
unsigned rvs_ring_dequeue_burst(struct rte_ring *r, struct rte_mbuf **pkts, unsigned n);
unsigned rvs_ring_count(const struct rte_ring *r);
void rvs_pktmbuf_reset(struct rte_mbuf *m);
#endif
