/* See shim.h: each function is a one-line exported wrapper of a DPDK static inline. */
#include "shim.h"

uint16_t rvs_eth_rx_burst(uint16_t port, uint16_t queue, struct rte_mbuf **pkts, uint16_t n) { return rte_eth_rx_burst(port, queue, pkts, n); }
uint16_t rvs_eth_tx_burst(uint16_t port, uint16_t queue, struct rte_mbuf **pkts, uint16_t n) { return rte_eth_tx_burst(port, queue, pkts, n); }
struct rte_mbuf *rvs_pktmbuf_alloc(struct rte_mempool *mp) { return rte_pktmbuf_alloc(mp); }
int rvs_pktmbuf_alloc_bulk(struct rte_mempool *mp, struct rte_mbuf **mbufs, unsigned n) { return rte_pktmbuf_alloc_bulk(mp, mbufs, n); }
void rvs_pktmbuf_free(struct rte_mbuf *m) { rte_pktmbuf_free(m); }
void rvs_pktmbuf_free_bulk(struct rte_mbuf **mbufs, unsigned n) { rte_pktmbuf_free_bulk(mbufs, n); }
char *rvs_pktmbuf_prepend(struct rte_mbuf *m, uint16_t len) { return rte_pktmbuf_prepend(m, len); }
char *rvs_pktmbuf_append(struct rte_mbuf *m, uint16_t len) { return rte_pktmbuf_append(m, len); }
char *rvs_pktmbuf_adj(struct rte_mbuf *m, uint16_t len) { return rte_pktmbuf_adj(m, len); }
int rvs_pktmbuf_trim(struct rte_mbuf *m, uint16_t len) { return rte_pktmbuf_trim(m, len); }
uint8_t *rvs_pktmbuf_mtod(struct rte_mbuf *m) { return rte_pktmbuf_mtod(m, uint8_t *); }
uint16_t rvs_pktmbuf_data_len(const struct rte_mbuf *m) { return m->data_len; }
uint32_t rvs_pktmbuf_pkt_len(const struct rte_mbuf *m) { return m->pkt_len; }
uint16_t rvs_pktmbuf_headroom(const struct rte_mbuf *m) { return rte_pktmbuf_headroom(m); }
uint16_t rvs_pktmbuf_tailroom(const struct rte_mbuf *m) { return rte_pktmbuf_tailroom(m); }
uint16_t rvs_pktmbuf_nb_segs(const struct rte_mbuf *m) { return m->nb_segs; }
uint16_t rvs_pktmbuf_port(const struct rte_mbuf *m) { return m->port; }
uint32_t rvs_pktmbuf_rss_hash(const struct rte_mbuf *m) { return (m->ol_flags & RTE_MBUF_F_RX_RSS_HASH) ? m->hash.rss : 0; }
int32_t rvs_pktmbuf_rx_vlan(const struct rte_mbuf *m) { return (m->ol_flags & RTE_MBUF_F_RX_QINQ_STRIPPED) ? -2 : (m->ol_flags & RTE_MBUF_F_RX_VLAN_STRIPPED) ? (int32_t)m->vlan_tci : -1; }
int rvs_pktmbuf_rx_l4_cksum(const struct rte_mbuf *m) {
    switch (m->ol_flags & RTE_MBUF_F_RX_L4_CKSUM_MASK) {
    case RTE_MBUF_F_RX_L4_CKSUM_BAD: return 1;
    case RTE_MBUF_F_RX_L4_CKSUM_GOOD: return 2;
    case RTE_MBUF_F_RX_L4_CKSUM_NONE: return 3;
    default: return 0;
    }
}
int rvs_errno(void) { return rte_errno; }
unsigned rvs_lcore_id(void) { return rte_lcore_id(); }
uint64_t rvs_rdtsc(void) { return rte_rdtsc(); }
unsigned rvs_ring_enqueue_burst(struct rte_ring *r, struct rte_mbuf **pkts, unsigned n) { return rte_ring_enqueue_burst(r, (void * const *)pkts, n, NULL); }
unsigned rvs_ring_dequeue_burst(struct rte_ring *r, struct rte_mbuf **pkts, unsigned n) { return rte_ring_dequeue_burst(r, (void **)pkts, n, NULL); }
unsigned rvs_ring_count(const struct rte_ring *r) { return rte_ring_count(r); }
void rvs_pktmbuf_reset(struct rte_mbuf *m) { rte_pktmbuf_reset(m); }
