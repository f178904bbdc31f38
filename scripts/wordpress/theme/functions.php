<?php
/* Feed links and featured images like a real theme; none of the block styles, to keep pages small. */
add_action('after_setup_theme', function (): void {
    add_theme_support('automatic-feed-links');
    add_theme_support('post-thumbnails');
});
add_action('wp_enqueue_scripts', function (): void {
    wp_dequeue_style('wp-block-library');
    wp_dequeue_style('classic-theme-styles');
    wp_dequeue_style('global-styles');
}, 100);
remove_action('wp_enqueue_scripts', 'wp_enqueue_global_styles');
remove_action('wp_body_open', 'wp_global_styles_render_svg_filters');
remove_action('wp_head', 'print_emoji_detection_script', 7);
remove_action('wp_print_styles', 'print_emoji_styles');
