// tgtest::kSanitized: true in a build with AddressSanitizer or ThreadSanitizer
// (scripts/test-sanitizers). Slow tests use a smaller configuration there, and tests that cap the
// address space (ASan reserves terabytes of it for shadow memory) skip that part.
#pragma once

namespace tgtest {

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
inline constexpr bool kSanitized = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
inline constexpr bool kSanitized = true;
#else
inline constexpr bool kSanitized = false;
#endif
#else
inline constexpr bool kSanitized = false;
#endif

}  // namespace tgtest
