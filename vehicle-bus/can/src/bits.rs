//! Raw signal bits in a CAN payload, as DBC lays them out: Intel (little-endian, `@1`) signals
//! start at their least significant bit and count up; Motorola (big-endian, `@0`) signals start at
//! their most significant bit and count down through each byte, then on to the next byte.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    Intel,
    Motorola,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BitLayout {
    pub start_bit: u32,
    pub size: u32,
    pub order: Order,
}

impl BitLayout {
    /// Bit positions from the most significant to the least significant bit of the value.
    fn positions(self) -> impl Iterator<Item = u32> {
        let mut msb_first = Vec::with_capacity(self.size as usize);
        match self.order {
            Order::Intel => msb_first.extend((0..self.size).rev().map(|i| self.start_bit + i)),
            Order::Motorola => {
                let mut pos = self.start_bit;
                for _ in 0..self.size {
                    msb_first.push(pos);
                    pos = if pos.is_multiple_of(8) { pos + 15 } else { pos - 1 };
                }
            }
        }
        msb_first.into_iter()
    }

    /// Whether every bit lies inside a payload of `len` bytes.
    pub fn fits(self, len: usize) -> bool {
        self.size > 0 && self.size <= 64 && self.positions().all(|p| (p / 8) < len as u32)
    }

    pub fn extract(self, data: &[u8]) -> Option<u64> {
        let mut raw = 0u64;
        for pos in self.positions() {
            let byte = *data.get((pos / 8) as usize)?;
            raw = (raw << 1) | u64::from((byte >> (pos % 8)) & 1);
        }
        Some(raw)
    }

    pub fn insert(self, data: &mut [u8], raw: u64) {
        for (i, pos) in self.positions().enumerate() {
            let bit = (raw >> (self.size as usize - 1 - i)) & 1;
            let byte = &mut data[(pos / 8) as usize];
            let mask = 1u8 << (pos % 8);
            *byte = if bit == 1 { *byte | mask } else { *byte & !mask };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intel_signals_are_little_endian_from_their_lowest_bit() {
        let speed = BitLayout { start_bit: 0, size: 16, order: Order::Intel };
        let mut data = [0u8; 8];
        speed.insert(&mut data, 10_000);
        assert_eq!(&data[..2], &[0x10, 0x27]);
        assert_eq!(speed.extract(&data), Some(10_000));
        let flag = BitLayout { start_bit: 9, size: 1, order: Order::Intel };
        let mut flags = [0u8; 2];
        flag.insert(&mut flags, 1);
        assert_eq!(flags, [0x00, 0x02]);
    }

    #[test]
    fn motorola_signals_run_from_their_highest_bit_across_bytes() {
        let soc = BitLayout { start_bit: 7, size: 12, order: Order::Motorola };
        let mut data = [0u8; 8];
        soc.insert(&mut data, 0xABC);
        assert_eq!(&data[..2], &[0xAB, 0xC0]);
        assert_eq!(soc.extract(&data), Some(0xABC));
        let nibble = BitLayout { start_bit: 3, size: 4, order: Order::Motorola };
        assert_eq!(nibble.extract(&[0x0F]), Some(0xF));
    }

    #[test]
    fn a_layout_past_the_payload_does_not_fit() {
        assert!(!BitLayout { start_bit: 60, size: 8, order: Order::Intel }.fits(8));
        assert!(!BitLayout { start_bit: 7, size: 16, order: Order::Motorola }.fits(1));
        assert_eq!(BitLayout { start_bit: 0, size: 16, order: Order::Intel }.extract(&[1]), None);
    }
}
