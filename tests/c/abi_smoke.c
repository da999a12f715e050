/*
 * A C client of the plugin, compiled with -Wall -Wextra -Werror against the committed
 * header and linked to the built library. Without arguments it checks every function's
 * argument handling; with a ws:// URL of the local Realtime server it also runs a whole
 * voice session (mic in, model audio out, a tool call answered) from C threads.
 * Exit 0 on success; prints "N passed, N failed".
 */
#include "realtime_voice.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int passed = 0, failed = 0;

#define CHECK(cond, what)                                                     \
    do {                                                                      \
        if (cond) {                                                           \
            passed++;                                                         \
        } else {                                                              \
            failed++;                                                         \
            char err_[512] = {0};                                             \
            int32_t n_ = 0;                                                   \
            rv_last_error(err_, (int32_t)sizeof err_, &n_);                   \
            fprintf(stderr, "FAIL %s:%d: %s (last error: %s)\n", __FILE__,    \
                    __LINE__, what, err_);                                    \
        }                                                                     \
    } while (0)

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void check_arguments(void) {
    const char *v = rv_version();
    CHECK(v != NULL && strlen(v) >= 5, "rv_version returns a version string");

    RvSession s = 12345;
    CHECK(rv_session_create(NULL, &s) == RV_ERR_INVALID_ARGUMENT && s == 0, "NULL config rejected, out zeroed");
    CHECK(rv_session_create("{}", NULL) == RV_ERR_INVALID_ARGUMENT, "NULL out rejected");
    CHECK(rv_session_create("{\"nope\":1}", &s) == RV_ERR_INVALID_CONFIG, "unknown key rejected");
    int32_t need = 0;
    CHECK(rv_last_error(NULL, 0, &need) == RV_ERR_BUFFER_TOO_SMALL && need > 0, "last_error reports its length");
    char *msg = malloc((size_t)need + 1);
    int32_t got = 0;
    CHECK(rv_last_error(msg, need + 1, &got) == RV_OK && got == need && strstr(msg, "nope") != NULL,
          "last_error names the bad key");
    free(msg);
    CHECK(rv_session_create("{\"api_key\":\"sk-should-not-leak-123\",\"url\":\"ws://example.com/\"}", &s) ==
              RV_ERR_INVALID_CONFIG,
          "plain ws:// to a non-loopback host rejected");
    char err[512];
    rv_last_error(err, sizeof err, NULL);
    CHECK(strstr(err, "should-not-leak") == NULL, "the key is not in the error message");

    CHECK(rv_session_create("{\"url\":\"ws://127.0.0.1:9/v1/realtime\"}", &s) == RV_OK && s != 0, "create");
    CHECK(rv_session_state(s) == RV_STATE_IDLE, "new session is idle");
    CHECK(rv_session_state(0) == RV_ERR_INVALID_HANDLE, "handle 0 invalid");
    CHECK(rv_session_state(s + 1000) == RV_ERR_INVALID_HANDLE, "unknown handle invalid");

    float mic[480 * 2];
    for (int i = 0; i < 480 * 2; i++) mic[i] = (i % 7 == 0) ? NAN : 0.1f;
    CHECK(rv_push_mic(s, mic, 480, 2, 48000) == RV_OK, "push before connect is accepted (dropped)");
    CHECK(rv_push_mic(s, NULL, 480, 2, 48000) == RV_ERR_INVALID_ARGUMENT, "NULL samples rejected");
    CHECK(rv_push_mic(s, mic, -1, 2, 48000) == RV_ERR_INVALID_ARGUMENT, "negative frames rejected");
    CHECK(rv_push_mic(s, mic, 480, 0, 48000) == RV_ERR_INVALID_ARGUMENT, "0 channels rejected");
    CHECK(rv_push_mic(s, mic, 480, 2, 1000) == RV_ERR_INVALID_ARGUMENT, "1 kHz rejected");
    CHECK(rv_push_mic(s, NULL, 0, 1, 48000) == RV_OK, "empty push is fine");

    float out[1024 * 2];
    for (int i = 0; i < 2048; i++) out[i] = 1.0f;
    CHECK(rv_pull_playback(s, out, 1024, 2, 48000) == 0, "nothing to play yet");
    int silent = 1;
    for (int i = 0; i < 2048; i++) silent &= out[i] == 0.0f;
    CHECK(silent, "pull fills silence");
    for (int i = 0; i < 2048; i++) out[i] = 1.0f;
    CHECK(rv_pull_playback(0, out, 1024, 2, 48000) == RV_ERR_INVALID_HANDLE && out[100] == 0.0f,
          "pull on a bad handle fills silence");
    CHECK(rv_pull_playback(s, NULL, 1024, 2, 48000) == RV_ERR_INVALID_ARGUMENT, "NULL out rejected");

    char buf[16];
    int32_t len = -1;
    CHECK(rv_poll_event(s, buf, sizeof buf, &len) == RV_EMPTY && len == 0, "no events yet");
    CHECK(rv_poll_event(s, NULL, 5, &len) == RV_ERR_INVALID_ARGUMENT, "NULL buf with cap rejected");
    CHECK(rv_poll_tool_call(s, buf, sizeof buf, &len) == RV_EMPTY, "no tool calls yet");
    CHECK(rv_update_session(s, "{\"instructions\":\"Be brief.\"}") == RV_OK, "update_session before connect");
    CHECK(rv_update_session(s, "[1,2]") == RV_ERR_INVALID_ARGUMENT, "update_session wants an object");
    CHECK(rv_update_session(s, NULL) == RV_ERR_INVALID_ARGUMENT, "update_session NULL rejected");
    CHECK(rv_send_text(s, "hi") == RV_ERR_INVALID_STATE, "send_text needs a connection");
    CHECK(rv_commit_audio(s) == RV_ERR_INVALID_STATE, "commit needs a connection");
    CHECK(rv_submit_tool_result(s, "call_x", "{}") == RV_ERR_INVALID_ARGUMENT, "unknown call id rejected");
    CHECK(rv_submit_tool_result(s, NULL, "{}") == RV_ERR_INVALID_ARGUMENT, "NULL call id rejected");
    CHECK(rv_create_response(s, "not json") == RV_ERR_INVALID_ARGUMENT, "bad response json rejected");
    RvStats st;
    memset(&st, 0xff, sizeof st);
    CHECK(rv_get_stats(s, &st) == RV_OK && st.mic_frames_in == 480 && st.state == RV_STATE_IDLE &&
              st.last_response_latency_ms == -1,
          "stats count mic frames");
    CHECK(rv_get_stats(s, NULL) == RV_ERR_INVALID_ARGUMENT, "NULL stats rejected");
    CHECK(sizeof(RvStats) == 144 && st.mic_level >= 0.0f && st.mic_level <= 1.0f && st.output_level == 0.0f,
          "stats levels in range");
    RvMouth mouth;
    memset(&mouth, 0xff, sizeof mouth);
    CHECK(sizeof(RvMouth) == 40 && rv_get_mouth(s, &mouth) == RV_OK && mouth.level == 0.0f &&
              mouth.sil == 1.0f && mouth.aa == 0.0f && mouth.played_ms == 0,
          "a silent session has a closed mouth");
    CHECK(rv_get_mouth(s, NULL) == RV_ERR_INVALID_ARGUMENT, "NULL mouth rejected");
    CHECK(rv_session_close(s) == RV_OK && rv_session_close(s) == RV_OK, "close is idempotent");
    CHECK(rv_session_destroy(s) == RV_OK, "destroy");
    CHECK(rv_session_destroy(s) == RV_ERR_INVALID_HANDLE, "second destroy is an error");
    CHECK(rv_pull_playback(s, out, 1024, 2, 48000) == RV_ERR_INVALID_HANDLE, "pull after destroy is safe");
    CHECK(rv_get_mouth(s, &mouth) == RV_ERR_INVALID_HANDLE, "mouth after destroy is safe");
    CHECK(rv_push_mic(s, mic, 480, 2, 48000) == RV_ERR_INVALID_HANDLE, "push after destroy is safe");
}

/* ---- a whole session against the local server ---- */

typedef struct {
    RvSession s;
    volatile int stop;
    long model_frames;
} Threads;

static void *mic_thread(void *arg) {
    Threads *t = arg;
    float buf[480 * 2];
    long n = 0;
    /* 1.2 s of a voiced, speech-like signal, then silence: 10 ms pushes at 48 kHz stereo */
    while (!t->stop) {
        for (int i = 0; i < 480; i++, n++) {
            double tt = (double)n / 48000.0;
            double v = tt < 1.2 ? 0.3 * sin(2 * M_PI * 180 * tt) + 0.15 * sin(2 * M_PI * 360 * tt) : 0.0;
            buf[2 * i] = buf[2 * i + 1] = (float)v;
        }
        rv_push_mic(t->s, buf, 480, 2, 48000);
        usleep(10000);
    }
    return NULL;
}

static void *audio_thread(void *arg) {
    Threads *t = arg;
    float out[1024 * 2];
    while (!t->stop) {
        int32_t n = rv_pull_playback(t->s, out, 1024, 2, 48000);
        if (n > 0) t->model_frames += n;
        usleep(21333);
    }
    return NULL;
}

static void run_session(const char *url) {
    char config[512];
    snprintf(config, sizeof config, "{\"url\":\"%s\",\"session\":{\"instructions\":\"Move the cube.\"}}", url);
    RvSession s = 0;
    CHECK(rv_session_create(config, &s) == RV_OK, "create against the local server");
    CHECK(rv_update_session(s, "{\"tools\":[{\"type\":\"function\",\"name\":\"move_cube\",\"description\":\"Move "
                               "the cube\",\"parameters\":{\"type\":\"object\",\"properties\":{\"dx\":{\"type\":"
                               "\"number\"}}}}]}") == RV_OK,
          "register a tool");
    CHECK(rv_session_connect(s) == RV_OK, "connect returns at once");
    CHECK(rv_session_connect(s) == RV_ERR_INVALID_STATE, "a second connect is refused");
    Threads t = {s, 0, 0};
    pthread_t mic, audio;
    int ready = 0, tool_answered = 0, responses_done = 0;
    double start = now_s();
    char *buf = malloc(1 << 16);
    while (now_s() - start < 20.0) {
        int32_t len = 0;
        while (rv_poll_event(s, buf, 1 << 16, &len) == RV_OK) {
            if (strstr(buf, "\"session_ready\"") && !ready) {
                ready = 1;
                pthread_create(&mic, NULL, mic_thread, &t);
                pthread_create(&audio, NULL, audio_thread, &t);
            }
            if (strstr(buf, "\"response_done\"")) responses_done++;
            CHECK(strstr(buf, "\"fatal\":true") == NULL, "no fatal error event");
        }
        while (rv_poll_tool_call(s, buf, 1 << 16, &len) == RV_OK) {
            CHECK(strstr(buf, "move_cube") != NULL, "the tool call names move_cube");
            char call_id[128] = {0};
            const char *p = strstr(buf, "\"call_id\":\"");
            if (p) sscanf(p + 11, "%127[^\"]", call_id);
            CHECK(rv_submit_tool_result(s, call_id, "{\"ok\":true}") == RV_OK, "tool result accepted");
            tool_answered = 1;
        }
        if (tool_answered && responses_done >= 2 && t.model_frames > 48000) break;
        usleep(5000);
    }
    free(buf);
    CHECK(ready, "the session became ready");
    if (ready) {
        t.stop = 1;
        pthread_join(mic, NULL);
        pthread_join(audio, NULL);
    }
    CHECK(tool_answered, "a tool call was delivered and answered");
    CHECK(t.model_frames > 48000, "over a second of model audio was played");
    RvStats st;
    CHECK(rv_get_stats(s, &st) == RV_OK && st.audio_bytes_sent > 48000 && st.audio_bytes_received > 48000,
          "audio flowed both ways");
    double t0 = now_s();
    CHECK(rv_session_destroy(s) == RV_OK, "destroy the live session");
    CHECK(now_s() - t0 < 2.0, "destroy took under 2 s");
}

int main(int argc, char **argv) {
    check_arguments();
    if (argc > 1) run_session(argv[1]);
    printf("%d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
