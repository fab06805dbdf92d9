/*
 * p11shim: a PKCS#11 module that forwards every call to a real module and can make it misbehave
 * on demand, for tests. The real part stays real: this only sits in front of it.
 *
 * Built by the tests themselves (tests/common: `cc -shared -fPIC`); never shipped.
 *
 * Environment, read at the first C_GetFunctionList:
 *   P11SHIM_MODULE        the real module (required)
 *   P11SHIM_FLIP_WRAP     a mechanism number (e.g. 0x1054): C_WrapKey with that mechanism returns
 *                         its output with the last byte flipped (a token whose wrap is wrong
 *                         without an error)
 *   P11SHIM_FAIL_AT       N: the N-th counted call (1-based, over every function but
 *                         C_GetFunctionList) returns P11SHIM_FAIL_RV instead of running
 *   P11SHIM_FAIL_RV       the return value to inject (default 0x30, CKR_DEVICE_ERROR)
 *   P11SHIM_FAIL_ALL      a function name (e.g. C_InitPIN): every call of it returns
 *                         P11SHIM_FAIL_RV (a fault that a retry does not clear)
 *   P11SHIM_TRACE         a file: one line per counted call, "N NAME", appended as it happens
 *                         (so a test can count the call sites a run went through)
 *
 * Only the PKCS#11 2.40 function list is offered (no C_GetInterface): cryptoki then uses
 * C_GetFunctionList, as byok-ceremony's own raw calls do.
 */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>

typedef unsigned long UL;
typedef void *P;
typedef UL CK_RV;

typedef struct {
    unsigned char major, minor;
    void *f[68];
} function_list;

typedef struct {
    UL mechanism;
    P parameter;
    UL parameter_len;
} mechanism;

static function_list shim;
static function_list *real;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned long calls;
static unsigned long fail_at;
static CK_RV fail_rv = 0x30;
static UL flip_wrap = (UL)-1;
static FILE *trace;
static const char *fail_all;

/* Counts the call; true when this one is to fail. */
static int inject(const char *name, CK_RV *rv) {
    pthread_mutex_lock(&lock);
    unsigned long n = ++calls;
    if (trace) {
        fprintf(trace, "%lu %s\n", n, name);
        fflush(trace);
    }
    pthread_mutex_unlock(&lock);
    if ((fail_at != 0 && n == fail_at) || (fail_all && strcmp(fail_all, name) == 0)) {
        *rv = fail_rv;
        return 1;
    }
    return 0;
}

#define FN(idx, name, params, args)                                         \
    static CK_RV shim_##name params {                                       \
        CK_RV injected;                                                     \
        if (inject(#name, &injected)) return injected;                      \
        return ((CK_RV(*) params)real->f[idx]) args;                        \
    }

FN(0, C_Initialize, (P a), (a))
FN(1, C_Finalize, (P a), (a))
FN(2, C_GetInfo, (P a), (a))
FN(4, C_GetSlotList, (unsigned char a, P b, P c), (a, b, c))
FN(5, C_GetSlotInfo, (UL a, P b), (a, b))
FN(6, C_GetTokenInfo, (UL a, P b), (a, b))
FN(7, C_GetMechanismList, (UL a, P b, P c), (a, b, c))
FN(8, C_GetMechanismInfo, (UL a, UL b, P c), (a, b, c))
FN(9, C_InitToken, (UL a, P b, UL c, P d), (a, b, c, d))
FN(10, C_InitPIN, (UL a, P b, UL c), (a, b, c))
FN(11, C_SetPIN, (UL a, P b, UL c, P d, UL e), (a, b, c, d, e))
FN(12, C_OpenSession, (UL a, UL b, P c, P d, P e), (a, b, c, d, e))
FN(13, C_CloseSession, (UL a), (a))
FN(14, C_CloseAllSessions, (UL a), (a))
FN(15, C_GetSessionInfo, (UL a, P b), (a, b))
FN(16, C_GetOperationState, (UL a, P b, P c), (a, b, c))
FN(17, C_SetOperationState, (UL a, P b, UL c, UL d, UL e), (a, b, c, d, e))
FN(18, C_Login, (UL a, UL b, P c, UL d), (a, b, c, d))
FN(19, C_Logout, (UL a), (a))
FN(20, C_CreateObject, (UL a, P b, UL c, P d), (a, b, c, d))
FN(21, C_CopyObject, (UL a, UL b, P c, UL d, P e), (a, b, c, d, e))
FN(22, C_DestroyObject, (UL a, UL b), (a, b))
FN(23, C_GetObjectSize, (UL a, UL b, P c), (a, b, c))
FN(24, C_GetAttributeValue, (UL a, UL b, P c, UL d), (a, b, c, d))
FN(25, C_SetAttributeValue, (UL a, UL b, P c, UL d), (a, b, c, d))
FN(26, C_FindObjectsInit, (UL a, P b, UL c), (a, b, c))
FN(27, C_FindObjects, (UL a, P b, UL c, P d), (a, b, c, d))
FN(28, C_FindObjectsFinal, (UL a), (a))
FN(29, C_EncryptInit, (UL a, P b, UL c), (a, b, c))
FN(30, C_Encrypt, (UL a, P b, UL c, P d, P e), (a, b, c, d, e))
FN(31, C_EncryptUpdate, (UL a, P b, UL c, P d, P e), (a, b, c, d, e))
FN(32, C_EncryptFinal, (UL a, P b, P c), (a, b, c))
FN(33, C_DecryptInit, (UL a, P b, UL c), (a, b, c))
FN(34, C_Decrypt, (UL a, P b, UL c, P d, P e), (a, b, c, d, e))
FN(35, C_DecryptUpdate, (UL a, P b, UL c, P d, P e), (a, b, c, d, e))
FN(36, C_DecryptFinal, (UL a, P b, P c), (a, b, c))
FN(37, C_DigestInit, (UL a, P b), (a, b))
FN(38, C_Digest, (UL a, P b, UL c, P d, P e), (a, b, c, d, e))
FN(39, C_DigestUpdate, (UL a, P b, UL c), (a, b, c))
FN(40, C_DigestKey, (UL a, UL b), (a, b))
FN(41, C_DigestFinal, (UL a, P b, P c), (a, b, c))
FN(42, C_SignInit, (UL a, P b, UL c), (a, b, c))
FN(43, C_Sign, (UL a, P b, UL c, P d, P e), (a, b, c, d, e))
FN(44, C_SignUpdate, (UL a, P b, UL c), (a, b, c))
FN(45, C_SignFinal, (UL a, P b, P c), (a, b, c))
FN(46, C_SignRecoverInit, (UL a, P b, UL c), (a, b, c))
FN(47, C_SignRecover, (UL a, P b, UL c, P d, P e), (a, b, c, d, e))
FN(48, C_VerifyInit, (UL a, P b, UL c), (a, b, c))
FN(49, C_Verify, (UL a, P b, UL c, P d, UL e), (a, b, c, d, e))
FN(50, C_VerifyUpdate, (UL a, P b, UL c), (a, b, c))
FN(51, C_VerifyFinal, (UL a, P b, UL c), (a, b, c))
FN(52, C_VerifyRecoverInit, (UL a, P b, UL c), (a, b, c))
FN(53, C_VerifyRecover, (UL a, P b, UL c, P d, P e), (a, b, c, d, e))
FN(54, C_DigestEncryptUpdate, (UL a, P b, UL c, P d, P e), (a, b, c, d, e))
FN(55, C_DecryptDigestUpdate, (UL a, P b, UL c, P d, P e), (a, b, c, d, e))
FN(56, C_SignEncryptUpdate, (UL a, P b, UL c, P d, P e), (a, b, c, d, e))
FN(57, C_DecryptVerifyUpdate, (UL a, P b, UL c, P d, P e), (a, b, c, d, e))
FN(58, C_GenerateKey, (UL a, P b, P c, UL d, P e), (a, b, c, d, e))
FN(59, C_GenerateKeyPair, (UL a, P b, P c, UL d, P e, UL f, P g, P h), (a, b, c, d, e, f, g, h))
FN(61, C_UnwrapKey, (UL a, P b, UL c, P d, UL e, P f, UL g, P h), (a, b, c, d, e, f, g, h))
FN(62, C_DeriveKey, (UL a, P b, UL c, P d, UL e, P f), (a, b, c, d, e, f))
FN(63, C_SeedRandom, (UL a, P b, UL c), (a, b, c))
FN(64, C_GenerateRandom, (UL a, P b, UL c), (a, b, c))
FN(65, C_GetFunctionStatus, (UL a), (a))
FN(66, C_CancelFunction, (UL a), (a))
FN(67, C_WaitForSlotEvent, (UL a, P b, P c), (a, b, c))

/* C_WrapKey, with the optional flip of its output's last byte. */
static CK_RV shim_C_WrapKey(UL s, mechanism *m, UL wk, UL k, unsigned char *out, UL *len) {
    CK_RV injected;
    if (inject("C_WrapKey", &injected)) return injected;
    CK_RV rv = ((CK_RV(*)(UL, mechanism *, UL, UL, unsigned char *, UL *))real->f[60])(
        s, m, wk, k, out, len);
    if (rv == 0 && out != NULL && len != NULL && *len > 0 && m != NULL &&
        m->mechanism == flip_wrap) {
        out[*len - 1] ^= 0x01;
    }
    return rv;
}

static CK_RV shim_C_GetFunctionList(function_list **out);

static int load(void) {
    if (real) return 0;
    const char *path = getenv("P11SHIM_MODULE");
    if (!path) {
        fprintf(stderr, "p11shim: set P11SHIM_MODULE to the real PKCS#11 module\n");
        return -1;
    }
    void *lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
        fprintf(stderr, "p11shim: cannot load %s: %s\n", path, dlerror());
        return -1;
    }
    CK_RV (*get)(function_list **) = (CK_RV(*)(function_list **))dlsym(lib, "C_GetFunctionList");
    if (!get || get(&real) != 0 || !real) {
        fprintf(stderr, "p11shim: %s has no usable C_GetFunctionList\n", path);
        real = NULL;
        return -1;
    }
    const char *v;
    if ((v = getenv("P11SHIM_FLIP_WRAP"))) flip_wrap = strtoul(v, NULL, 0);
    if ((v = getenv("P11SHIM_FAIL_AT"))) fail_at = strtoul(v, NULL, 0);
    if ((v = getenv("P11SHIM_FAIL_RV"))) fail_rv = strtoul(v, NULL, 0);
    if ((v = getenv("P11SHIM_TRACE"))) trace = fopen(v, "a");
    fail_all = getenv("P11SHIM_FAIL_ALL");
    shim.major = 2;
    shim.minor = 40;
    memcpy(shim.f, real->f, sizeof shim.f);
#define SET(idx, name) shim.f[idx] = (void *)shim_##name
    SET(0, C_Initialize); SET(1, C_Finalize); SET(2, C_GetInfo); SET(3, C_GetFunctionList);
    SET(4, C_GetSlotList); SET(5, C_GetSlotInfo); SET(6, C_GetTokenInfo);
    SET(7, C_GetMechanismList); SET(8, C_GetMechanismInfo); SET(9, C_InitToken);
    SET(10, C_InitPIN); SET(11, C_SetPIN); SET(12, C_OpenSession); SET(13, C_CloseSession);
    SET(14, C_CloseAllSessions); SET(15, C_GetSessionInfo); SET(16, C_GetOperationState);
    SET(17, C_SetOperationState); SET(18, C_Login); SET(19, C_Logout); SET(20, C_CreateObject);
    SET(21, C_CopyObject); SET(22, C_DestroyObject); SET(23, C_GetObjectSize);
    SET(24, C_GetAttributeValue); SET(25, C_SetAttributeValue); SET(26, C_FindObjectsInit);
    SET(27, C_FindObjects); SET(28, C_FindObjectsFinal); SET(29, C_EncryptInit);
    SET(30, C_Encrypt); SET(31, C_EncryptUpdate); SET(32, C_EncryptFinal);
    SET(33, C_DecryptInit); SET(34, C_Decrypt); SET(35, C_DecryptUpdate);
    SET(36, C_DecryptFinal); SET(37, C_DigestInit); SET(38, C_Digest); SET(39, C_DigestUpdate);
    SET(40, C_DigestKey); SET(41, C_DigestFinal); SET(42, C_SignInit); SET(43, C_Sign);
    SET(44, C_SignUpdate); SET(45, C_SignFinal); SET(46, C_SignRecoverInit);
    SET(47, C_SignRecover); SET(48, C_VerifyInit); SET(49, C_Verify); SET(50, C_VerifyUpdate);
    SET(51, C_VerifyFinal); SET(52, C_VerifyRecoverInit); SET(53, C_VerifyRecover);
    SET(54, C_DigestEncryptUpdate); SET(55, C_DecryptDigestUpdate);
    SET(56, C_SignEncryptUpdate); SET(57, C_DecryptVerifyUpdate); SET(58, C_GenerateKey);
    SET(59, C_GenerateKeyPair); SET(60, C_WrapKey); SET(61, C_UnwrapKey); SET(62, C_DeriveKey);
    SET(63, C_SeedRandom); SET(64, C_GenerateRandom); SET(65, C_GetFunctionStatus);
    SET(66, C_CancelFunction); SET(67, C_WaitForSlotEvent);
#undef SET
    return 0;
}

static CK_RV shim_C_GetFunctionList(function_list **out) {
    if (!out) return 0x7; /* CKR_ARGUMENTS_BAD */
    pthread_mutex_lock(&lock);
    int failed = load();
    pthread_mutex_unlock(&lock);
    if (failed) return 0x5; /* CKR_GENERAL_ERROR */
    *out = &shim;
    return 0;
}

__attribute__((visibility("default"))) CK_RV C_GetFunctionList(function_list **out) {
    return shim_C_GetFunctionList(out);
}
