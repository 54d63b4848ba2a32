//! The state that the general decoder carries from layer to layer: the [`Decoded`]
//! being filled, and the counters that bound nesting.

use crate::bytes::len_u32;
use crate::ip::{FragmentFields, IpPayload};
use crate::link::{LinkOutput, NetworkLayer};
use crate::packet::{
    Decoded, FragmentHead, FragmentInfo, IpInfo, MacAddr, StopReason, TunnelInfo, TunnelKind, Vlans,
};
use crate::{chdlc, ethernet, linktype, mpls, ppp, DecodeOptions};

/// The maximum number of encapsulation levels followed before decoding stops with
/// [`StopReason::TooManyEncapsulations`]. Each tunnel, MPLS label stack and PPPoE
/// header counts as one level. Networks nest two or three, so the limit only bounds
/// the work spent on crafted packets, such as a GRE packet that carries itself.
pub(crate) const MAX_ENCAPSULATIONS: u8 = 8;

/// The state of one run of the general decoder.
#[derive(Clone, Copy, Debug)]
pub(crate) struct DecodeState {
    /// The fields found so far. A decoder stores each field as soon as its header is
    /// intact, so the layers before a problem survive it.
    pub(crate) out: Decoded,
    /// VLAN tags seen in all Ethernet headers so far, for the limit on tags.
    vlan_tags: u8,
    /// Encapsulation levels entered so far.
    encapsulations: u8,
    /// Tunnels entered so far.
    tunnels: u8,
    pub(crate) decapsulate: bool,
}

impl DecodeState {
    #[inline]
    pub(crate) fn new(options: &DecodeOptions) -> Self {
        DecodeState {
            out: Decoded::default(),
            vlan_tags: 0,
            encapsulations: 0,
            tunnels: 0,
            decapsulate: options.decapsulate,
        }
    }

    /// Counts one more encapsulation level, failing past [`MAX_ENCAPSULATIONS`].
    #[inline]
    pub(crate) fn enter_encapsulation(&mut self) -> Result<(), StopReason> {
        if self.encapsulations >= MAX_ENCAPSULATIONS {
            return Err(StopReason::TooManyEncapsulations);
        }
        self.encapsulations += 1;
        Ok(())
    }

    /// Enters a tunnel of `kind` whose outer IP header is `outer`. The first tunnel
    /// entered is the one that [`Decoded::tunnel`] reports.
    #[inline]
    pub(crate) fn enter_tunnel(
        &mut self,
        kind: TunnelKind,
        outer: &IpInfo,
    ) -> Result<(), StopReason> {
        self.enter_encapsulation()?;
        self.tunnels += 1;
        if self.out.tunnel.is_none() {
            self.out.tunnel = Some(TunnelInfo {
                kind,
                src: outer.src,
                dst: outer.dst,
                id: None,
            });
        }
        Ok(())
    }

    /// Sets the kind and identifier of the tunnel being decoded, once its header has
    /// shown them, if it is the outermost tunnel.
    #[inline]
    pub(crate) fn identify_tunnel(&mut self, kind: TunnelKind, id: Option<u32>) {
        if self.tunnels != 1 {
            return;
        }
        if let Some(tunnel) = self.out.tunnel.as_mut() {
            tunnel.kind = kind;
            tunnel.id = id;
        }
    }

    /// Keeps the fragmentation fields of `ip` unless an outer header was fragmented.
    ///
    /// NOTE: when both an outer and an inner header are fragments, only the outer
    /// fields are kept, so a fragment table cannot match the inner fragments.
    #[inline]
    pub(crate) fn record_fragment(
        &mut self,
        ip: &IpInfo,
        fields: FragmentFields,
        payload: IpPayload<'_>,
    ) {
        if self.out.fragment.is_some() {
            return;
        }
        self.out.fragment = Some(FragmentInfo {
            src: ip.src,
            dst: ip.dst,
            protocol: fields.protocol,
            id: fields.id,
            offset: fields.offset,
            more_fragments: fields.more_fragments,
            data_len: ip.total_len.saturating_sub(len_u32(fields.data_start)),
            head: FragmentHead::new(payload.bytes),
        });
    }
}

impl<'a> LinkOutput<'a> for DecodeState {
    #[inline]
    fn set_ethernet(&mut self, src: &'a [u8; 6], dst: &'a [u8; 6]) {
        self.out.src_mac = Some(MacAddr(*src));
        self.out.dst_mac = Some(MacAddr(*dst));
        self.out.vlans = Vlans::default();
    }

    #[inline]
    fn set_src_mac(&mut self, src: &'a [u8; 6]) {
        self.out.src_mac = Some(MacAddr(*src));
    }

    /// Counts the tag against the limit over all Ethernet headers of the packet, not
    /// only the innermost one that `out.vlans` describes.
    #[inline]
    fn push_vlan(&mut self, id: u16) -> Result<(), StopReason> {
        if self.vlan_tags >= ethernet::MAX_VLAN_TAGS {
            return Err(StopReason::TooManyVlanTags);
        }
        self.vlan_tags += 1;
        ethernet::push_vlan(&mut self.out.vlans, id);
        Ok(())
    }

    fn decode_encapsulation(
        &mut self,
        ethertype: u16,
        rest: &'a [u8],
    ) -> Result<NetworkLayer<'a>, StopReason> {
        match ethertype {
            ethernet::ETHERTYPE_PPPOE_SESSION => ppp::decode_pppoe_session(rest, self),
            _ => mpls::decode_mpls(rest, self),
        }
    }

    fn decode_serial_link(
        &mut self,
        linktype: u32,
        data: &'a [u8],
    ) -> Result<NetworkLayer<'a>, StopReason> {
        match linktype {
            linktype::PPP => ppp::decode_ppp(data, self),
            linktype::PPP_HDLC => ppp::decode_ppp_hdlc(data, self),
            linktype::PPP_ETHER => ppp::decode_pppoe_session(data, self),
            linktype::C_HDLC => chdlc::decode_chdlc(data, self),
            _ => Err(StopReason::UnsupportedLinkType),
        }
    }
}
