#include "common/time.h"

#include <ctype.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>

static _Atomic int64_t fixed_now;

void gh_time_set_fixed(int64_t ms) {
  atomic_store(&fixed_now, ms);
}

int64_t gh_now_ms(void) {
  int64_t f = atomic_load(&fixed_now);
  if (f) return f;
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Days from civil date (Howard Hinnant's algorithm), proleptic Gregorian. */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = (unsigned)(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + (int64_t)doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = (unsigned)(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  *d = doy - (153 * mp + 2) / 5 + 1;
  *m = mp < 10 ? mp + 3 : mp - 9;
  *y = (int64_t)yoe + era * 400 + (*m <= 2);
}

static void put_digits(char *out, unsigned v, int n) {
  for (int i = n - 1; i >= 0; i--) {
    out[i] = (char)('0' + v % 10);
    v /= 10;
  }
}

/* 0000-01-01T00:00:00.000Z and 9999-12-31T23:59:59.999Z: the range the 24-char form can hold.
 * Values outside it are clamped (JS would switch to the +YYYYYY extended form). */
#define ISO_MIN_MS INT64_C(-62167219200000)
#define ISO_MAX_MS INT64_C(253402300799999)

void gh_iso8601(int64_t ms, char out[GH_ISO_LEN]) {
  if (ms < ISO_MIN_MS) ms = ISO_MIN_MS;
  if (ms > ISO_MAX_MS) ms = ISO_MAX_MS;
  int64_t secs = ms >= 0 ? ms / 1000 : (ms - 999) / 1000;
  unsigned msec = (unsigned)(ms - secs * 1000);
  int64_t days = secs >= 0 ? secs / 86400 : (secs - 86399) / 86400;
  unsigned sod = (unsigned)(secs - days * 86400);
  int64_t y;
  unsigned mo, d;
  civil_from_days(days, &y, &mo, &d);
  /* "YYYY-MM-DDTHH:MM:SS.mmmZ" */
  put_digits(out, (unsigned)y, 4);
  out[4] = '-';
  put_digits(out + 5, mo, 2);
  out[7] = '-';
  put_digits(out + 8, d, 2);
  out[10] = 'T';
  put_digits(out + 11, sod / 3600, 2);
  out[13] = ':';
  put_digits(out + 14, sod / 60 % 60, 2);
  out[16] = ':';
  put_digits(out + 17, sod % 60, 2);
  out[19] = '.';
  put_digits(out + 20, msec, 3);
  out[23] = 'Z';
  out[24] = 0;
}

static int digits(const char **p, int n, int *out) {
  int v = 0;
  for (int i = 0; i < n; i++) {
    if (!isdigit((unsigned char)(*p)[i])) return -1;
    v = v * 10 + ((*p)[i] - '0');
  }
  *p += n;
  *out = v;
  return 0;
}

gh_status gh_iso8601_parse(const char *s, int64_t *ms) {
  int Y, M, D, h, mi, sec, frac = 0;
  const char *p = s;
  if (!s) return GH_ERR_INVALID;
  if (digits(&p, 4, &Y) || *p++ != '-' || digits(&p, 2, &M) || *p++ != '-' || digits(&p, 2, &D))
    return GH_ERR_INVALID;
  if (*p != 'T' && *p != ' ' && *p != 't') return GH_ERR_INVALID;
  p++;
  if (digits(&p, 2, &h) || *p++ != ':' || digits(&p, 2, &mi) || *p++ != ':' || digits(&p, 2, &sec))
    return GH_ERR_INVALID;
  if (*p == '.') {
    p++;
    int n = 0;
    while (isdigit((unsigned char)*p)) {
      if (n < 3) frac = frac * 10 + (*p - '0');
      n++;
      p++;
    }
    if (n == 0) return GH_ERR_INVALID;
    for (; n < 3; n++) frac *= 10;
  }
  int off_min = 0;
  if (*p == 'Z' || *p == 'z') {
    p++;
  } else if (*p == '+' || *p == '-') {
    int sign = *p == '-' ? -1 : 1, oh, om = 0;
    p++;
    if (digits(&p, 2, &oh)) return GH_ERR_INVALID;
    if (*p == ':') { /* "+05:30": the minutes must follow */
      p++;
      if (digits(&p, 2, &om)) return GH_ERR_INVALID;
    } else if (isdigit((unsigned char)*p) && digits(&p, 2, &om)) {
      return GH_ERR_INVALID;
    }
    if (oh > 23 || om > 59) return GH_ERR_INVALID;
    off_min = sign * (oh * 60 + om);
  } else if (*p != 0) {
    return GH_ERR_INVALID;
  }
  if (*p != 0) return GH_ERR_INVALID;
  if (M < 1 || M > 12 || D < 1 || D > 31 || h > 23 || mi > 59 || sec > 59) return GH_ERR_INVALID;
  int64_t days = days_from_civil(Y, (unsigned)M, (unsigned)D);
  int64_t t = ((days * 24 + h) * 60 + mi) * 60 + sec - (int64_t)off_min * 60;
  *ms = t * 1000 + frac;
  return GH_OK;
}
