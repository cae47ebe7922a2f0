//! Host memory: single values, slices, arrays and `Vec`s of [`Element`]s.

use crate::{BufferView, BufferViewMut, DeviceBuffer, DeviceBufferMut, Element};

// SAFETY: the slice's own memory, borrowed with `self`.
unsafe impl<T: Element> DeviceBuffer for [T] {
    fn view(&self) -> BufferView {
        BufferView::host(self.as_ptr().cast(), self.len(), T::DTYPE)
    }
}

// SAFETY: the slice's own memory, borrowed mutably with `self`; every bit pattern of an
// `Element`'s dtype is one the receive paths accept (bools are checked by the MPI layer).
unsafe impl<T: Element> DeviceBufferMut for [T] {
    fn view_mut(&mut self) -> BufferViewMut {
        BufferViewMut::host(self.as_mut_ptr().cast(), self.len(), T::DTYPE)
    }
}

/// Implements the buffer traits for a type by delegating to its slice.
macro_rules! via_slice {
    ($([$($g:tt)*] $t:ty),* $(,)?) => {$(
        // SAFETY: delegates to the slice of the whole value, borrowed with `self`.
        unsafe impl<$($g)*> DeviceBuffer for $t {
            fn view(&self) -> BufferView { self[..].view() }
        }
        // SAFETY: delegates to the slice of the whole value, borrowed mutably with `self`.
        unsafe impl<$($g)*> DeviceBufferMut for $t {
            fn view_mut(&mut self) -> BufferViewMut { self[..].view_mut() }
        }
    )*};
}

via_slice!([T: Element] Vec<T>, [T: Element, const N: usize] [T; N]);

// SAFETY: the one value as a slice of length 1, borrowed with `self`.
unsafe impl<T: Element> DeviceBuffer for T {
    fn view(&self) -> BufferView {
        std::slice::from_ref(self).view()
    }
}

// SAFETY: the one value as a slice of length 1, borrowed mutably with `self`.
unsafe impl<T: Element> DeviceBufferMut for T {
    fn view_mut(&mut self) -> BufferViewMut {
        std::slice::from_mut(self).view_mut()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::DType;

    #[test]
    fn views_of_host_containers() {
        let mut a = [1u16, 2, 3, 4];
        assert_eq!(a.view().len, 4);
        assert_eq!(a.view_mut().dtype, DType::U16);
        let v = vec![half::bf16::ONE; 5];
        assert_eq!((v.view().len, v.view().bytes()), (5, 10));
        let x = 3.5f32;
        let view = x.view();
        assert_eq!((view.len, view.ptr), (1, (&x as *const f32).cast()));
        assert!(view.memory().is_host());
    }
}
