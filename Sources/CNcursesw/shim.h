#ifndef CNCURSESW_SHIM_H
#define CNCURSESW_SHIM_H
/* The wide-character API (cchar_t, mvadd_wch, get_wch) is only declared with these macros,
   and SwiftPM drops the -D flags pkg-config reports, so they are defined here. */
#ifndef _XOPEN_SOURCE_EXTENDED
#define _XOPEN_SOURCE_EXTENDED 1
#endif
#ifndef NCURSES_WIDECHAR
#define NCURSES_WIDECHAR 1
#endif
#include <stdio.h>
#include <locale.h>
#include <langinfo.h>
#include <string.h>
#include <wchar.h>
#include <ncursesw/ncurses.h>
#include <sys/ioctl.h>

/* C globals are not concurrency-safe in Swift 6: read them through functions. */
static inline WINDOW *cn_stdscr(void)      { return stdscr; }
static inline int     cn_lines(void)       { return LINES; }
static inline int     cn_cols(void)        { return COLS; }
static inline int     cn_colors(void)      { return COLORS; }
static inline int     cn_color_pairs(void) { return COLOR_PAIRS; }
static inline FILE   *cn_stdout(void)      { return stdout; }
static inline FILE   *cn_stdin(void)       { return stdin; }

/* Attribute macros the importer cannot see. */
static inline attr_t cn_A_NORMAL(void)    { return A_NORMAL; }
static inline attr_t cn_A_BOLD(void)      { return A_BOLD; }
static inline attr_t cn_A_DIM(void)       { return A_DIM; }
static inline attr_t cn_A_REVERSE(void)   { return A_REVERSE; }
static inline attr_t cn_A_UNDERLINE(void) { return A_UNDERLINE; }

/* One wide cell with attributes and a colour pair. */
static inline int cn_put_wch(int y, int x, const wchar_t *wstr, attr_t attrs, int pair) {
  cchar_t c;
  if (setcchar(&c, wstr, attrs, (short)pair, NULL) != OK) return ERR;
  return mvadd_wch(y, x, &c);
}

/* The terminal's size from the kernel (ioctl is variadic, so Swift cannot call it).
   Returns 0 and fills rows/cols on success. */
static inline int cn_winsize(int fd, int *rows, int *cols) {
  struct winsize ws;
  if (ioctl(fd, TIOCGWINSZ, &ws) != 0 || ws.ws_col == 0) return -1;
  *rows = ws.ws_row; *cols = ws.ws_col;
  return 0;
}

/* Mouse reporting on (button 1 presses and the wheel, reported at once: no click interval)
   or off (the terminal's own text selection works again). The button masks are macros. */
static inline void cn_set_mouse(int on) {
  mmask_t mask = BUTTON1_PRESSED | BUTTON4_PRESSED;
#ifdef BUTTON5_PRESSED
  mask |= BUTTON5_PRESSED;
#endif
  mousemask(on ? mask : 0, NULL);
  mouseinterval(0);
}

/* The mouse event behind a KEY_MOUSE: 1 a press of button 1, 2 the wheel up, 3 the wheel down,
   0 anything else (a release, another button, no event); its cell in *x, *y. */
static inline int cn_get_mouse(int *x, int *y) {
  MEVENT e;
  if (getmouse(&e) != OK) return 0;
  *x = e.x; *y = e.y;
  if (e.bstate & BUTTON4_PRESSED) return 2;
#ifdef BUTTON5_PRESSED
  if (e.bstate & BUTTON5_PRESSED) return 3;
#endif
  if (e.bstate & BUTTON1_PRESSED) return 1;
  return 0;
}

/* The codeset of the user's LC_CTYPE locale ("UTF-8", "ANSI_X3.4-1968", "ISO-8859-1"), after
   setlocale(LC_CTYPE, ""); NULL when the environment names a locale that is not installed (the
   C locale is then in effect). Copy it before the next setlocale. */
static inline const char *cn_user_codeset(void) {
  if (!setlocale(LC_CTYPE, "")) return NULL;
  return nl_langinfo(CODESET);
}

/* ncursesw sends non-ASCII characters only under a UTF-8 LC_CTYPE, chosen before newterm: the
   current one if it is UTF-8, else C.UTF-8, else en_US.UTF-8. Only LC_CTYPE: LC_ALL would also
   change LC_NUMERIC and number formatting. Returns 1 when a UTF-8 codeset is active. */
static inline int cn_use_utf8_ctype(void) {
  const char *cs = nl_langinfo(CODESET);
  if (cs && strcmp(cs, "UTF-8") == 0) return 1;
  if (setlocale(LC_CTYPE, "C.UTF-8") || setlocale(LC_CTYPE, "en_US.UTF-8")) {
    cs = nl_langinfo(CODESET);
    return cs && strcmp(cs, "UTF-8") == 0;
  }
  return 0;
}
#endif
