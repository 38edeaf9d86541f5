//! Once-for-All MobileNetV3 and the MobileNetV2 / ProxylessNAS elastic spaces: three
//! [elastic MBConv spaces](super) that share one implementation and differ in their
//! expand ratios and in their networks ([`super::network`]).

use super::network::{MBV2, OFA_MBV3, PROXYLESS};
use super::{cardinalities, elastic_space, ElasticSpec, ELASTIC_GENES};
use crate::space::{embed, Arch, Dataset, FeatureGroup, SearchSpace, SpaceId};

/// The bundled OFA-MobileNetV3 data: 5000 architectures with their latencies.
pub const OFA_DATASET: Dataset = Dataset {
    archs: embed!("ofa_mbv3/archs.csv"),
    arch_columns: 4,
    accuracy: &[],
    latency: &[embed!("ofa_mbv3/latency.csv")],
    simulated: &[],
    proxy_ranking: None,
    reference_rows: &[],
};

/// OFA-MobileNetV3 inverted-bottleneck expand ratios.
pub const OFA_EXPANDS: [u8; 3] = [3, 4, 6];
/// MobileNetV2-space expand ratios.
pub const MBV2_EXPANDS: [u8; 3] = [3, 4, 6];
/// ProxylessNAS-space expand ratios.
pub const PROXYLESS_EXPANDS: [u8; 2] = [3, 6];

const CARD3: [u8; ELASTIC_GENES] = cardinalities(3);
const CARD2: [u8; ELASTIC_GENES] = cardinalities(2);

elastic_space!(
    /// Once-for-All MobileNetV3: resolution, 5 stages of 2-4 blocks, each block with its own
    /// kernel size (3, 5, 7) and expand ratio (3, 4, 6). String, genes and encoding
    /// (121 features): see [the elastic spaces](super::elastic).
    OfaMbv3,
    &ElasticSpec { id: SpaceId::OfaMbv3, expands: &OFA_EXPANDS, card: &CARD3, net: &OFA_MBV3 },
    aliases: &["ofa_mbv3", "ofa"],
    dataset: Some(&OFA_DATASET)
);

elastic_space!(
    /// MobileNetV2-style elastic space: OFA's elastic depth (2-4 per stage), kernel (3, 5, 7),
    /// expand (3, 4, 6) and resolution on MobileNetV2's macro network. Same string form as
    /// [`OfaMbv3`]; 121 features. No bundled latency data.
    Mbv2,
    &ElasticSpec { id: SpaceId::Mbv2, expands: &MBV2_EXPANDS, card: &CARD3, net: &MBV2 },
    aliases: &["mobilenetv2"],
    dataset: None
);

elastic_space!(
    /// ProxylessNAS-style elastic space: elastic depth (2-4 per stage), kernel (3, 5, 7),
    /// expand (3, 6) and resolution on ProxylessNAS's macro network. Same string form as
    /// [`OfaMbv3`]; 101 features. No bundled latency data.
    Proxyless,
    &ElasticSpec { id: SpaceId::Proxyless, expands: &PROXYLESS_EXPANDS, card: &CARD2, net: &PROXYLESS },
    aliases: &["proxylessnas"],
    dataset: None
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn string_round_trip_and_parts() {
        let s = "r204_k75-55-77-57-573_e64-46-63-43-336";
        let a = OfaMbv3.parse(s).unwrap();
        assert_eq!(OfaMbv3.format(&a), s);
        assert_eq!(OfaMbv3::resolution(&a), 204);
        assert_eq!(OfaMbv3::depths(&a), [2, 2, 2, 2, 3]);
        let b = OfaMbv3::from_parts(
            204,
            &[2, 2, 2, 2, 3],
            &[7, 5, 5, 5, 5, 5, 7, 7, 7, 7, 5, 7, 5, 7, 3, 3, 5, 7, 3, 3],
            &[6, 4, 4, 6, 4, 6, 3, 4, 6, 3, 3, 3, 4, 3, 3, 6, 3, 3, 6, 3],
        )
        .unwrap();
        assert_eq!(OfaMbv3.format(&b), s);
        assert_eq!(a, b, "unused slots must not distinguish architectures");
        // 2+2+2+2+3 = 11 active blocks, 2 features each, plus the resolution feature.
        let enc = OfaMbv3.encode(&a);
        let scale = (204.0f64 / 224.0).powi(2);
        assert!((enc.iter().sum::<f64>() - 23.0 * scale).abs() < 1e-12);
    }

    #[test]
    fn proxyless_has_two_expand_ratios() {
        let s = "r160_k35-753-7777-33-55_e36-663-3333-66-36";
        let a = Proxyless.parse(s).unwrap();
        assert_eq!(Proxyless.format(&a), s);
        assert_eq!(Proxyless.num_features(), 101);
        assert!(
            Proxyless.parse("r160_k35-753-7777-33-55_e34-663-3333-66-36").is_err(),
            "4 is not a proxyless expand ratio"
        );
        assert_eq!(
            Mbv2.format(&Mbv2.parse("r160_k35-753-7777-33-55_e34-663-3333-66-36").unwrap()),
            "r160_k35-753-7777-33-55_e34-663-3333-66-36"
        );
        assert_eq!(Mbv2.num_features(), 121);
    }

    #[test]
    fn rejects_malformed() {
        for bad in [
            "r204_k75-55-77-57_e64-46-63-43",
            "r203_k75-55-77-57-573_e64-46-63-43-336",
            "r204_k75-55-77-57-573_e64-46-63-43-33",
            "r204_k75-55-77-57-593_e64-46-63-43-336",
            "r204_k7-55-77-57-573_e6-46-63-43-336",
            "204_k75-55-77-57-573_e64-46-63-43-336",
        ] {
            assert!(OfaMbv3.parse(bad).is_err(), "{bad}");
        }
    }
}
