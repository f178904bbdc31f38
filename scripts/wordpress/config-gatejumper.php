<?php
/*
 * Debian WordPress host config for Gatejumper's test instances.
 *
 * Installed as /etc/wordpress/config-gatejumper.php by `scripts/wordpress.sh install`.
 * Debian's /usr/share/wordpress/wp-config.php loads it when WORDPRESS_CONFIG=gatejumper
 * (set by scripts/wordpress/router.php and helper.php); the instance's own settings
 * (database, URLs, content dir) live in the file named by GATEJUMPER_WP_CONFIG, so any
 * number of instances can share the packaged WordPress.
 */
$gatejumper_instance = getenv('GATEJUMPER_WP_CONFIG');
if (!$gatejumper_instance || !is_file($gatejumper_instance)) {
    header('HTTP/1.0 500 Internal Server Error');
    echo "Gatejumper WordPress: GATEJUMPER_WP_CONFIG does not name an instance config file.\n";
    exit(1);
}
require $gatejumper_instance;
