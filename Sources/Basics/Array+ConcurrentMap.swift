import Dispatch

extension Array where Element: Sendable {
    /// `map` on every core: each element is transformed on its own iteration of
    /// `concurrentPerform`; results keep the order of the array.
    ///
    /// Each result is made in place in the new array's storage, never copied: results can be
    /// large values (a plan's 49,000 resources), and copying one retains everything it holds.
    public func concurrentMap<T: Sendable>(_ transform: @Sendable (Element) -> T) -> [T] {
        [T](unsafeUninitializedCapacity: count) { storage, initialized in
            // Each iteration initializes only its own slot, so no two threads touch the same one;
            // concurrentPerform returns once every iteration has run, so all are initialized.
            nonisolated(unsafe) let slots = storage
            withoutActuallyEscaping(transform) { transform in
                withUnsafeBufferPointer { elements in
                    nonisolated(unsafe) let elements = elements
                    DispatchQueue.concurrentPerform(iterations: elements.count) { index in
                        (slots.baseAddress! + index).initialize(to: transform(elements[index]))
                    }
                }
            }
            initialized = count
        }
    }
}
