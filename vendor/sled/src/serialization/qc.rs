//! Property tests: every serializable value reads back as it was written.
//! (Moved verbatim out of sled 0.34.7's `src/serialization.rs`, to keep each file within 600
//! lines; vendor/sled/PATCHED.md says what moved where.)

use quickcheck::{Arbitrary, Gen};
use rand::Rng;

use super::*;
use crate::pagecache::MessageKind;

impl Arbitrary for MessageHeader {
    fn arbitrary<G: Gen>(g: &mut G) -> MessageHeader {
        MessageHeader {
            crc32: g.gen(),
            len: g.gen(),
            kind: MessageKind::arbitrary(g),
            segment_number: SegmentNumber(SpreadU64::arbitrary(g).0),
            pid: g.gen(),
        }
    }
}

impl Arbitrary for MessageKind {
    fn arbitrary<G: Gen>(g: &mut G) -> MessageKind {
        g.gen_range(0, 12).into()
    }
}

impl Arbitrary for Data {
    fn arbitrary<G: Gen>(g: &mut G) -> Data {
        if g.gen() {
            let keys = Arbitrary::arbitrary(g);
            let mut values = vec![];
            for _ in &keys {
                values.push(Arbitrary::arbitrary(g))
            }
            Data::Index(Index { keys, pointers: values })
        } else {
            let keys = Arbitrary::arbitrary(g);
            let mut values = vec![];
            for _ in &keys {
                values.push(Arbitrary::arbitrary(g))
            }
            Data::Leaf(Leaf { keys, values })
        }
    }

    fn shrink(&self) -> Box<dyn Iterator<Item = Data>> {
        match self {
            Data::Index(ref index) => {
                let index = index.clone();
                Box::new(index.keys.shrink().map(move |keys| {
                    Data::Index(Index {
                        pointers: index
                            .pointers
                            .iter()
                            .take(keys.len())
                            .copied()
                            .collect(),
                        keys,
                    })
                }))
            }
            Data::Leaf(ref leaf) => {
                let leaf = leaf.clone();
                Box::new(leaf.keys.shrink().map(move |keys| {
                    Data::Leaf(Leaf {
                        values: leaf
                            .values
                            .iter()
                            .take(keys.len())
                            .cloned()
                            .collect(),
                        keys,
                    })
                }))
            }
        }
    }
}

impl Arbitrary for Node {
    fn arbitrary<G: Gen>(g: &mut G) -> Node {
        let next: Option<NonZeroU64> = Arbitrary::arbitrary(g);

        let merging_child: Option<NonZeroU64> = Arbitrary::arbitrary(g);

        Node {
            next,
            merging_child,
            merging: bool::arbitrary(g),
            prefix_len: u8::arbitrary(g),
            lo: IVec::arbitrary(g),
            hi: IVec::arbitrary(g),
            data: Data::arbitrary(g),
        }
    }

    fn shrink(&self) -> Box<dyn Iterator<Item = Node>> {
        let data_shrinker = self.data.shrink().map({
            let node = self.clone();
            move |data| Node { data, ..node.clone() }
        });

        let hi_shrinker = self.hi.shrink().map({
            let node = self.clone();
            move |hi| Node { hi, ..node.clone() }
        });

        let lo_shrinker = self.lo.shrink().map({
            let node = self.clone();
            move |lo| Node { lo, ..node.clone() }
        });

        Box::new(data_shrinker.chain(hi_shrinker).chain(lo_shrinker))
    }
}

impl Arbitrary for Link {
    fn arbitrary<G: Gen>(g: &mut G) -> Link {
        let discriminant = g.gen_range(0, 5);
        match discriminant {
            0 => Link::Set(IVec::arbitrary(g), IVec::arbitrary(g)),
            1 => Link::Del(IVec::arbitrary(g)),
            2 => Link::ParentMergeIntention(u64::arbitrary(g)),
            3 => Link::ParentMergeConfirm,
            4 => Link::ChildMergeCap,
            _ => unreachable!("invalid choice"),
        }
    }
}

impl Arbitrary for IVec {
    fn arbitrary<G: Gen>(g: &mut G) -> IVec {
        let v: Vec<u8> = Arbitrary::arbitrary(g);
        v.into()
    }

    fn shrink(&self) -> Box<dyn Iterator<Item = IVec>> {
        let v: Vec<u8> = self.to_vec();
        Box::new(v.shrink().map(IVec::from))
    }
}

impl Arbitrary for Meta {
    fn arbitrary<G: Gen>(g: &mut G) -> Meta {
        Meta { inner: Arbitrary::arbitrary(g) }
    }

    fn shrink(&self) -> Box<dyn Iterator<Item = Meta>> {
        Box::new(self.inner.shrink().map(|inner| Meta { inner }))
    }
}

impl Arbitrary for DiskPtr {
    fn arbitrary<G: Gen>(g: &mut G) -> DiskPtr {
        if g.gen() {
            DiskPtr::Inline(g.gen())
        } else {
            DiskPtr::Blob(g.gen(), g.gen())
        }
    }
}

impl Arbitrary for PageState {
    fn arbitrary<G: Gen>(g: &mut G) -> PageState {
        if g.gen() {
            // don't generate 255 because we add 1 to this
            // number in PageState::serialize_into to account
            // for the base fragment
            let n = g.gen_range(0, 255);

            let base = (g.gen(), DiskPtr::arbitrary(g), g.gen());
            let frags = (0..n)
                .map(|_| (g.gen(), DiskPtr::arbitrary(g), g.gen()))
                .collect();
            PageState::Present { base, frags }
        } else {
            PageState::Free(g.gen(), DiskPtr::arbitrary(g))
        }
    }
}

impl Arbitrary for Snapshot {
    fn arbitrary<G: Gen>(g: &mut G) -> Snapshot {
        Snapshot {
            stable_lsn: g.gen(),
            active_segment: g.gen(),
            pt: Arbitrary::arbitrary(g),
        }
    }
}

#[derive(Debug, Clone)]
struct SpreadI64(i64);

impl Arbitrary for SpreadI64 {
    fn arbitrary<G: Gen>(g: &mut G) -> SpreadI64 {
        let uniform = g.gen::<i64>();
        let shift = g.gen_range(0, 64);
        SpreadI64(uniform >> shift)
    }
}

#[derive(Debug, Clone)]
struct SpreadU64(u64);

impl Arbitrary for SpreadU64 {
    fn arbitrary<G: Gen>(g: &mut G) -> SpreadU64 {
        let uniform = g.gen::<u64>();
        let shift = g.gen_range(0, 64);
        SpreadU64(uniform >> shift)
    }
}

fn prop_serialize<T>(item: &T) -> bool
where
    T: Serialize + PartialEq + Clone + std::fmt::Debug,
{
    let mut buf = vec![0; usize::try_from(item.serialized_size()).unwrap()];
    let buf_ref = &mut buf.as_mut_slice();
    item.serialize_into(buf_ref);
    assert_eq!(
        buf_ref.len(),
        0,
        "round-trip failed to consume produced bytes"
    );
    assert_eq!(buf.len() as u64, item.serialized_size());
    let deserialized = T::deserialize(&mut buf.as_slice()).unwrap();
    if *item == deserialized {
        true
    } else {
        eprintln!(
            "round-trip serialization failed. original:\n\n{:?}\n\n \
             deserialized(serialized(original)):\n\n{:?}",
            item, deserialized
        );
        false
    }
}

quickcheck::quickcheck! {
    #[cfg_attr(miri, ignore)]
    fn bool(item: bool) -> bool {
        prop_serialize(&item)
    }

    #[cfg_attr(miri, ignore)]
    fn u8(item: u8) -> bool {
        prop_serialize(&item)
    }

    #[cfg_attr(miri, ignore)]
    fn i64(item: SpreadI64) -> bool {
        prop_serialize(&item.0)
    }

    #[cfg_attr(miri, ignore)]
    fn u64(item: SpreadU64) -> bool {
        prop_serialize(&item.0)
    }

    #[cfg_attr(miri, ignore)]
    fn disk_ptr(item: DiskPtr) -> bool {
        prop_serialize(&item)
    }

    #[cfg_attr(miri, ignore)]
    fn page_state(item: PageState) -> bool {
        prop_serialize(&item)
    }

    #[cfg_attr(miri, ignore)]
    fn meta(item: Meta) -> bool {
        prop_serialize(&item)
    }

    #[cfg_attr(miri, ignore)]
    fn snapshot(item: Snapshot) -> bool {
        prop_serialize(&item)
    }

    #[cfg_attr(miri, ignore)]
    fn node(item: Node) -> bool {
        prop_serialize(&item)
    }

    #[cfg_attr(miri, ignore)]
    fn data(item: Data) -> bool {
        prop_serialize(&item)
    }

    #[cfg_attr(miri, ignore)]
    fn link(item: Link) -> bool {
        prop_serialize(&item)
    }

    #[cfg_attr(miri, ignore)]
    fn msg_header(item: MessageHeader) -> bool {
        prop_serialize(&item)
    }
}

#[test]
fn debug_node() {
    // color_backtrace::install();

    let node = Node {
        next: None,
        lo: vec![].into(),
        hi: vec![].into(),
        merging_child: None,
        merging: true,
        prefix_len: 0,
        data: Data::Index(Index::default()),
    };

    prop_serialize(&node);
}
