#pragma once
// Ref<X>: a shared owner of an X that keeps its count inside X (intrusive), so that any raw
// pointer to a live X can become an owner again. Graph nodes use it: a node running its
// backward can hand out tensors that refer to itself, and a node costs one allocation.

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <utility>

namespace tapegrad::detail {

/// Base of everything owned through Ref. The count is atomic: graphs may be freed on
/// another thread than the one that built them.
class RefCounted {
public:
    RefCounted() = default;
    RefCounted(const RefCounted&) = delete;
    RefCounted& operator=(const RefCounted&) = delete;

    void add_ref() const noexcept { refs_.fetch_add(1, std::memory_order_relaxed); }
    /// Drops one reference and destroys the object when it was the last.
    void drop_ref() const noexcept {
        if (refs_.fetch_sub(1, std::memory_order_acq_rel) == 1) destroy();
    }
    std::uint32_t ref_count() const noexcept { return refs_.load(std::memory_order_relaxed); }

protected:
    virtual ~RefCounted() = default;
    /// Destroys and frees the object; called once, when the last reference goes.
    virtual void destroy() const noexcept = 0;

private:
    mutable std::atomic<std::uint32_t> refs_{0};
};

/// X derives from RefCounted. The pointer is kept as its RefCounted base, so that copying
/// and destroying a Ref compiles where X is incomplete (tensor.hpp); converting from and
/// to X* needs X complete only where that code is used.
template <class X> class Ref {
public:
    Ref() noexcept = default;
    Ref(std::nullptr_t) noexcept {}
    /// Takes a new reference to `object` (which may be null).
    explicit Ref(X* object) noexcept : object_(object) {
        if (object_) object_->add_ref();
    }
    Ref(const Ref& other) noexcept : object_(other.object_) {
        if (object_) object_->add_ref();
    }
    Ref(Ref&& other) noexcept : object_(std::exchange(other.object_, nullptr)) {}
    Ref& operator=(const Ref& other) noexcept {
        Ref(other).swap(*this);
        return *this;
    }
    Ref& operator=(Ref&& other) noexcept {
        Ref(std::move(other)).swap(*this);
        return *this;
    }
    ~Ref() {
        if (object_) object_->drop_ref();
    }

    void reset() noexcept { Ref().swap(*this); }
    void swap(Ref& other) noexcept { std::swap(object_, other.object_); }

    X* get() const noexcept { return static_cast<X*>(const_cast<RefCounted*>(object_)); }
    X& operator*() const noexcept { return *get(); }
    X* operator->() const noexcept { return get(); }
    explicit operator bool() const noexcept { return object_ != nullptr; }
    bool operator==(const Ref& other) const noexcept { return object_ == other.object_; }
    bool operator!=(const Ref& other) const noexcept { return object_ != other.object_; }

private:
    const RefCounted* object_ = nullptr;
};

} // namespace tapegrad::detail
