"""User-facing texts, French by default, English available (``hub.language``).

Templates receive the catalogue of the deployment's language as ``t``; Python code calls
:func:`text`; error pages say JupyterHub's own English messages through :func:`hub_error`.
"""

from __future__ import annotations

import re

CATALOGUE: dict[str, dict[str, str]] = {
    "fr": {
        "site_name": "DataLab Hub",
        "site_tagline": "Le hub de notebooks de DataLab Normandie",
        "login_title": "Connexion",
        "login_intro": "Connectez-vous avec le compte que vous a remis votre partenaire.",
        "username": "Identifiant",
        "password": "Mot de passe",
        "sign_in": "Se connecter",
        "login_failed": "Identifiant ou mot de passe incorrect.",
        "demo_notice": "Démonstration : comptes analyste1, analyste2, decideur1 et coordinateur.",
        "home_title": "Mon espace",
        "home_start": "Démarrer mon lab",
        "home_open": "Ouvrir mon lab",
        "pending_title": "Votre lab démarre",
        "pending_wait": "Vous serez redirigé vers votre lab dès qu'il sera prêt.",
        "pending_log": "Journal du démarrage",
        "pending_cancel": "Annuler le démarrage",
        "pending_cancelling": "Annulation…",
        "pending_requested": "Lab demandé.",
        "pending_spawning": "Démarrage du lab…",
        "pending_cancelled": "Démarrage annulé.",
        "pending_failed": "Échec du démarrage :",
        "pending_ready": "Votre lab est prêt.",
        "stopping_title": "Votre lab s'arrête",
        "stopping_wait": "Vous pourrez le redémarrer dès qu'il sera arrêté.",
        "not_running_title": "Votre lab n'est pas démarré",
        "not_running": "Démarrez-le pour retrouver vos notebooks.",
        "not_running_failed_title": "Le démarrage a échoué",
        "not_running_failed": "Le dernier démarrage de votre lab a échoué :",
        "not_running_retry": "Réessayer",
        "home_stop": "Arrêter mon lab",
        "home_no_lab": (
            "Votre rôle ne comprend pas de lab JupyterLab : "
            "les tableaux de bord publiés pour vous s'ouvrent dans le navigateur."
        ),
        "home_partners": "Vos partenaires",
        "home_token": "Jetons d'accès",
        "logout": "Se déconnecter",
        "admin": "Administration",
        "spawn_title": "Choisir un environnement",
        "spawn_submit": "Démarrer",
        "spawn_resources": "{cpu} cœur(s), {memory} de mémoire",
        "profile_forbidden": (
            "Le profil « {profile} » n'est pas ouvert à votre partenaire. "
            "Profils autorisés : {allowed}."
        ),
        "profile_unknown": "Profil « {profile} » inconnu. Profils autorisés : {allowed}.",
        "health_unconfined": (
            "Données de santé ({partners}) : {backend} ne peut pas garantir qu'aucun accès "
            "réseau ne sort de l'espace confiné, rien n'y est donc lancé pour vous. "
            "Choisissez un autre profil ou contactez {contact}."
        ),
        "no_profile": (
            "Aucun profil de lab n'est ouvert à votre partenaire : contactez {contact}."
        ),
        "no_partner": (
            "Votre compte n'est rattaché à aucun partenaire DataLab : contactez {contact}."
        ),
        "role_no_lab": (
            "Le rôle de « {user} » ne comprend pas de lab : aucun lab ne peut être démarré "
            "pour cette personne."
        ),
        "bad_option": "Option « {option} » non reconnue. Options acceptées : {allowed}.",
        "slurm_fieldset": "Ressources demandées sur {cluster}",
        "slurm_field_partition": "Partition",
        "slurm_field_account": "Compte Slurm",
        "slurm_field_qos": "QOS",
        "slurm_field_cores": "Cœurs",
        "slurm_field_memory": "Mémoire",
        "slurm_field_gpus": "GPU",
        "slurm_field_walltime": "Durée maximale (H:MM)",
        "slurm_field_invalid": "Champ « {label} » ({field}) refusé : attendu {expected}.",
        "slurm_expect_choice": "une valeur parmi : {allowed}",
        "slurm_expect_integer": "un nombre entier de {min} à {max}",
        "slurm_expect_memory": "un nombre suivi de M ou G, de {min} à {max}",
        "slurm_expect_walltime": "une durée H:MM de {min} à {max}",
        "slurm_no_login": (
            "Votre compte n'est associé à aucun identifiant sur {cluster} : contactez {contact}."
        ),
        "slurm_login_unknown": (
            "Votre identifiant « {login} » n'existe pas sur {cluster} : contactez {contact}."
        ),
        "slurm_login_system": (
            "L'identifiant « {login} » est un compte système de {cluster} (root, service ou "
            "numéro inférieur à {min_uid}) : aucun lab ni rapport ne s'exécute sous ce compte. "
            "Contactez {contact}."
        ),
        "slurm_submitted": "Job Slurm {job} soumis sur {cluster} (compte {account}, partition {partition}).",
        "slurm_pending": "Job {job} en attente sur {cluster}. Raison Slurm : {reason}{explained}.{start}",
        "slurm_pending_start": " Début prévu : {start}.",
        "slurm_pending_position": " Position dans la file de la partition {partition} : {position} sur {pending}.",
        "slurm_running": "Job {job} démarré sur le nœud {node} ; démarrage du lab…",
        "slurm_refused": "{cluster} a refusé le job : {message}",
        "slurm_unavailable": "{cluster} ne répond pas : {message}",
        "slurm_ended": (
            "Le job {job} s'est arrêté pendant le démarrage (état Slurm : {state}). "
            "Fin de son journal ({log}) : {tail}"
        ),
        "slurm_timeout": (
            "Le lab n'a pas démarré en {seconds} s (job {job}, état Slurm : {state}, "
            "raison : {reason}) : le job a été annulé."
        ),
        "slurm_stop_unconfirmed": (
            "Le job {job} tourne encore sur {cluster} après {attempts} demandes d'annulation "
            "(scancel) : prévenez l'équipe."
        ),
        "slurm_reason_None": "pas encore examiné par l'ordonnanceur",
        "slurm_reason_Resources": "les ressources demandées ne sont pas libres",
        "slurm_reason_Priority": "des jobs plus prioritaires passent avant",
        "slurm_reason_QOS": "une limite de la QOS est atteinte",
        "slurm_reason_Assoc": "une limite du compte est atteinte",
        "slurm_reason_Partition": "une limite de la partition est atteinte",
        "home_walltime": "Votre lab sur {cluster} s'arrêtera au plus tard à {end} (temps restant : {left}).",
        "home_walltime_warning": "Votre lab s'arrête bientôt : enregistrez votre travail.",
        "docker_volume": "Préparation de votre dossier personnel (volume {volume})…",
        "docker_container": "Démarrage du conteneur {container}…",
        "docker_waiting": "Conteneur démarré : attente du serveur JupyterLab…",
        "docker_failed": "Docker n'a pas pu démarrer votre lab : {reason}",
        "docker_removing": "Votre lab précédent est encore en cours de suppression : réessayez dans un instant.",
        "share_nav": "Partage",
        "home_idle_notice": (
            "Sans activité pendant {minutes} min, votre lab est arrêté automatiquement ; "
            "vos fichiers sont conservés."
        ),
        "space_nav": "Espace disque",
        "space_title": "Espace disque",
        "space_intro": (
            "La place qu'occupent vos fichiers : votre dossier personnel et les espaces "
            "partagés de vos partenaires et projets. Au-delà du quota indicatif, pensez à "
            "faire du tri."
        ),
        "space_warning": (
            "Un de vos espaces dépasse son quota indicatif : supprimez ou archivez des "
            "fichiers, ou contactez l'équipe DataLab."
        ),
        "space_mine": "Mes espaces",
        "space_everyone": "Tous les espaces (administration)",
        "space_kind": "Type",
        "space_place": "Espace",
        "space_used": "Occupé",
        "space_files": "Fichiers",
        "space_quota": "Quota indicatif",
        "space_no_quota": "aucun",
        "space_over": "Quota dépassé",
        "space_at_least": "au moins",
        "space_kind_home": "Dossier personnel",
        "space_kind_partner": "Espace partenaire",
        "space_kind_project": "Espace projet",
        "space_nothing": "Aucun espace mesuré pour vous sur ce hub.",
        "space_cached": "Mesures mises à jour au plus toutes les {minutes} minute(s).",
        "access_nav": "Accès à mon lab",
        "access_title": "Qui a accédé à mon lab",
        "access_intro": (
            "Les actions d'autres personnes ou services sur vos labs et votre compte, "
            "d'après le journal d'audit : ouverture d'un lab partagé, démarrage ou arrêt "
            "par un administrateur ou par l'arrêt automatique, actions d'administration."
        ),
        "access_none": "Personne d'autre n'a agi sur vos labs ni sur votre compte.",
        "access_when": "Quand",
        "access_who": "Qui",
        "access_what": "Action",
        "access_target": "Lab ou compte",
        "access_from": "Depuis",
        "access_result": "Résultat",
        "access_result_success": "réussi",
        "access_result_failure": "échoué",
        "access_result_refused": "refusé",
        "access_action_server_access": "a ouvert le lab",
        "access_action_server_start": "a démarré le lab",
        "access_action_server_stop": "a arrêté le lab",
        "access_action_admin_server_start": "a démarré le lab (administration)",
        "access_action_admin_server_stop": "a arrêté le lab (administration)",
        "access_action_admin_user_modify": "a modifié le compte (administration)",
        "access_action_admin_user_delete": "a supprimé le compte (administration)",
        "access_action_admin_token_create": "a créé un jeton d'accès à votre nom (administration)",
        "access_action_admin_token_revoke": "a révoqué un de vos jetons (administration)",
        "access_action_identity_offboard": "départ d'un partenaire : jetons révoqués, labs arrêtés",
        "share_title": "Partager mon lab",
        "share_intro": (
            "Ouvrez votre lab à une personne, à un partenaire ou à un projet de DataLab : "
            "vous travaillez alors à plusieurs dans le même lab, sur les mêmes fichiers. "
            "Vous pouvez retirer un partage à tout moment."
        ),
        "share_new": "Nouveau partage",
        "share_with": "Partager avec",
        "share_people": "Personnes",
        "share_groups": "Partenaires et projets",
        "share_submit": "Partager",
        "share_code_create": "Créer un lien d'invitation",
        "share_code_result": "Lien d'invitation (valable 24 h, pour une personne connectée à DataLab) :",
        "share_mine": "Ce que je partage",
        "share_no_lab": "Votre rôle ne comprend pas de lab : vous n'avez rien à partager.",
        "share_recipient": "Avec",
        "share_since": "Depuis",
        "share_code": "Lien d'invitation",
        "share_code_used": "Utilisé",
        "share_code_expires": "Expire le",
        "share_received": "Partagé avec moi",
        "share_owner": "Lab de",
        "share_via": "Par",
        "share_direct": "vous personnellement",
        "share_open": "Ouvrir le lab de",
        "share_running": "démarré",
        "share_stopped": "arrêté",
        "share_revoke": "Retirer",
        "share_decline": "Refuser",
        "share_none": "Aucun.",
        "share_done": "C'est fait.",
        "share_failed": "Échec :",
        "share_forbidden": (
            "Votre partenaire n'autorise pas le partage des labs (données sensibles). "
            "Vous pouvez ouvrir les labs partagés avec vous."
        ),
        "health_share": (
            "Règle des données de santé : votre lab donne accès à {spaces}, qui détient des données "
            "de santé ; il ne peut être partagé qu'avec des membres de {spaces} (pas de lien d'invitation)."
        ),
        "health_audience_partner": (
            "Règle des données de santé : {space} détient des données de santé ; ce que publient ses "
            "membres ne peut être vu au-delà de {space}. Choisissez ce seul partenaire comme public "
            "(éventuellement restreint à des rôles)."
        ),
        "health_audience_none": (
            "Règle des données de santé : vous avez accès à {spaces}, qui détient des données de santé ; "
            "aucun public de tableau de bord ou de rapport ne se limite à {spaces} : publication refusée."
        ),
        "airlock_nav": "Exports",
        "airlock_title": "Sortie de fichiers (données de santé)",
        "airlock_intro": (
            "Un fichier ne quitte un espace de données de santé (vers un dossier personnel, un autre "
            "partenaire, un tableau de bord, un rapport ou un téléchargement) que par une demande "
            "d'export : vous nommez le fichier et la raison ; un ou une référente des données de "
            "l'espace, autre que vous, l'approuve ou la refuse. Le fichier approuvé est exactement "
            "celui copié au moment de la demande (empreinte SHA-256 vérifiée)."
        ),
        "airlock_no_space": (
            "Vous n'appartenez à aucun espace de données de santé : vos fichiers ne passent pas par "
            "cette page."
        ),
        "airlock_new": "Nouvelle demande d'export",
        "airlock_path": "Fichier",
        "airlock_path_help": (
            "Le chemin tel que vous le voyez dans votre lab, par exemple "
            "partenaire-{partner}/resultats/tableau.csv (espace du partenaire), projet-<id>/… "
            "(espace d'un projet) ou un fichier de votre dossier personnel."
        ),
        "airlock_reason_label": "Raison de l'export",
        "airlock_submit": "Demander l'export",
        "airlock_mine": "Mes demandes",
        "airlock_to_decide": "Demandes à examiner (référent des données)",
        "airlock_decided": "Décisions prises dans vos espaces",
        "airlock_none": "Aucune.",
        "airlock_col_id": "N°",
        "airlock_col_file": "Fichier",
        "airlock_col_space": "Espace",
        "airlock_col_requester": "Demandeur",
        "airlock_col_reason": "Raison",
        "airlock_col_size": "Taille (octets)",
        "airlock_col_hash": "Empreinte SHA-256",
        "airlock_col_status": "État",
        "airlock_col_decision": "Décision",
        "airlock_download": "Télécharger",
        "airlock_approve": "Approuver",
        "airlock_refuse": "Refuser",
        "airlock_refuse_reason": "Raison du refus",
        "airlock_status_pending": "en attente",
        "airlock_status_approving": "export en cours",
        "airlock_status_approved": "approuvée, exportée",
        "airlock_status_refused": "refusée",
        "airlock_decided_by": "par {who}",
        "airlock_requested": "Demande n° {id} enregistrée : elle attend la décision d'un référent des données.",
        "airlock_approved": "Demande n° {id} approuvée : le fichier est exporté.",
        "airlock_refused_done": "Demande n° {id} refusée.",
        "airlock_bad_path": (
            "Chemin refusé : indiquez un fichier de votre lab par un chemin relatif, sans « .. », "
            "sans « . » ni caractère de contrôle."
        ),
        "airlock_link": "Refusé : le chemin passe par un lien symbolique. Seul un fichier réel de l'espace peut sortir.",
        "airlock_not_found": "Fichier introuvable dans l'espace.",
        "airlock_not_regular": "Refusé : ce chemin ne désigne pas un fichier ordinaire.",
        "airlock_unreadable": "Refusé : vous ne pouvez pas lire ce fichier vous-même.",
        "airlock_too_large": "Refusé : le fichier dépasse la taille maximale d'un export ({limit} Mio).",
        "airlock_hash_mismatch": (
            "Refusé : la copie en attente ne correspond plus à l'empreinte enregistrée lors de la "
            "demande ; elle ne peut pas être exportée. Refusez la demande et faites-en une nouvelle."
        ),
        "airlock_export_failed": "L'export a échoué ; la demande reste en attente. Contactez l'équipe DataLab.",
        "airlock_not_your_space": "Refusé : « {space} » n'est pas un de vos espaces.",
        "airlock_not_health": (
            "« {space} » n'est pas un espace de données de santé : ses fichiers ne passent pas par "
            "le sas d'export."
        ),
        "airlock_home_ambiguous": (
            "Vous êtes membre de plusieurs partenaires détenant des données de santé : placez le "
            "fichier dans l'espace du partenaire concerné (partenaire-<id>/…) et demandez son export "
            "depuis cet espace."
        ),
        "airlock_reason": "Indiquez une raison de {low} à {high} caractères.",
        "airlock_unknown": "Aucune demande d'export n° {id} visible pour vous.",
        "airlock_self": "Refusé : personne n'approuve ni ne refuse sa propre demande d'export.",
        "airlock_not_steward": (
            "Refusé : seul un référent des données de l'espace concerné (déclaré dans le fichier de "
            "déploiement) décide de cette demande."
        ),
        "airlock_not_pending": "La demande n° {id} a déjà été traitée.",
        "airlock_not_exported": "La demande n° {id} n'a pas de fichier exporté.",
        "accept_title": "Accepter l'invitation",
        "accept_intro": "Vous ({user}) êtes invité(e) à ouvrir le lab de {owner}.",
        "accept_not_running": (
            "Ce lab n'est pas démarré : après avoir accepté, demandez à {owner} de le démarrer."
        ),
        "accept_grants": "En acceptant, vous obtenez, pour ce lab uniquement :",
        "accept_submit": "Accepter l'invitation",
        "accept_next": "Vous serez ensuite dirigé(e) vers",
        "oauth_title": "Autoriser l'accès",
        "oauth_intro": (
            "Vous ({user}) allez ouvrir un lab ou un service qui n'est pas le vôtre : "
            "confirmez que vous voulez y accéder avec votre compte DataLab."
        ),
        "oauth_grants": "Cet accès permettra :",
        "oauth_submit": "Autoriser",
        "footer": "DataLab Normandie — Région Normandie et ses 21 partenaires",
        "page_lang": "fr",
        "page_noscript": "DataLab Hub a besoin de JavaScript : activez-le dans votre navigateur pour continuer.",
        "page_menu": "Afficher ou masquer le menu",
        "page_theme": "Thème clair ou sombre",
        "page_error": "Erreur",
        "page_close": "Fermer",
        "logout_done": "Vous êtes déconnecté.",
        "logout_login_again": "Se connecter à nouveau",
        "login_oidc_intro": (
            "Connectez-vous avec le compte de votre établissement : "
            "DataLab Hub reconnaît votre partenaire à partir de ce compte."
        ),
        "login_with": "Se connecter avec {provider}",
        "token_title": "Jetons d'accès",
        "token_note": "Note",
        "token_note_placeholder": "à quoi servira ce jeton",
        "token_note_help": "Cette note vous aidera à savoir à quoi sert chaque jeton.",
        "token_expires": "Le jeton expire dans",
        "token_1h": "1 heure",
        "token_1d": "1 jour",
        "token_1w": "1 semaine",
        "token_1m": "1 mois",
        "token_1y": "1 an",
        "token_never": "Jamais",
        "token_scopes": "Droits",
        "token_scopes_placeholder": "droits du jeton, séparés par des espaces",
        "token_scopes_help": (
            "Vous pouvez limiter ce que le jeton permet de faire. Sans droit indiqué, "
            "le jeton peut faire tout ce que vous pouvez faire."
        ),
        "token_request": "Créer un jeton d'accès",
        "token_new": "Votre nouveau jeton d'accès",
        "token_copy": (
            "Copiez ce jeton : il ne sera plus affiché, "
            "mais vous pourrez toujours revenir ici en créer un autre."
        ),
        "token_api_tokens": "Jetons d'accès à l'API",
        "token_api_tokens_help": (
            "Ces jetons donnent accès à l'API du hub. Révoquer le jeton d'un lab "
            "en cours demande de redémarrer ce lab."
        ),
        "token_last_used": "Dernière utilisation",
        "token_created": "Créé le",
        "token_expires_at": "Expire le",
        "token_scopes_summary": "droits",
        "token_revoke": "révoquer",
        "token_apps": "Applications autorisées",
        "token_apps_help": (
            "Ces applications (surtout vos labs et les services du hub) vous identifient "
            "par OAuth ; leurs jetons servent à vous reconnaître, pas à agir à votre place."
        ),
        "token_app": "Application",
        "token_app_service": "Service {name} du hub",
        "token_app_lab": "Lab {path}",
        "token_first_authorized": "Autorisée le",
        "error_title": "Erreur {code}",
        "error_400": "La demande n'a pas pu être traitée.",
        "error_403": "Vous n'avez pas accès à cette page.",
        "error_404": "Cette page n'existe pas.",
        "error_405": "Cette action n'est pas possible ici.",
        "error_500": "Une erreur interne est survenue : réessayez plus tard ou contactez l'équipe DataLab.",
        "error_503": "Le service ne répond pas pour le moment : réessayez dans quelques instants.",
        "error_other": "La demande n'a pas abouti.",
        "error_home": "Revenir à Mon espace",
        "hub_err_named_servers": "Un seul lab par personne : les labs nommés ne sont pas proposés.",
        "hub_err_no_permission": "Vous n'avez pas accès à {what}.",
        "hub_err_no_permission_lab": "Vous n'avez pas accès au lab {path}.",
        "hub_err_scopes": "Votre rôle ne permet pas cette action (droits requis : {scopes}).",
        "hub_err_no_user": "Aucune personne « {user} » sur ce hub.",
        "hub_err_no_server": "{user} n'a pas de lab nommé « {server} ».",
        "hub_err_running": "Ce lab est déjà démarré.",
        "hub_err_no_access": "Cette ressource n'existe pas ou vous n'y avez pas accès.",
        "hub_err_share_expired": "Ce lien de partage n'existe pas ou a expiré.",
        "hub_err_share_self": "Vous ne pouvez pas partager votre lab avec vous-même.",
        "hub_err_share_code": "Ce code de partage n'est pas valable.",
        "refused_title": "Accès refusé",
        "refused_no_partner": (
            "Votre compte n'est rattaché à aucun partenaire DataLab : "
            "contactez {contact} pour demander votre rattachement."
        ),
        "refused_claim_missing": (
            "Votre fournisseur d'identité n'a pas indiqué votre établissement de rattachement : "
            "contactez {contact}."
        ),
        "refused_bad_claim": (
            "Les informations transmises par votre fournisseur d'identité sont illisibles "
            "ou mal formées : contactez {contact}."
        ),
        "refused_bad_username": (
            "Votre identifiant, tel que transmis par votre fournisseur d'identité, est absent "
            "ou contient des caractères non acceptés (lettres, chiffres, « . », "
            "« _ », « - », « @ ») : contactez {contact}."
        ),
        "refused_account_conflict": (
            "Un autre compte de votre fournisseur d'identité utilise déjà cet identifiant sur "
            "DataLab : pour protéger ses données, la connexion est refusée. Contactez {contact}."
        ),
        "service_reports": "Rapports",
        "reports_title": "Rapports planifiés",
        "reports_intro": (
            "Vos notebooks exécutés automatiquement (papermill), sans lab ouvert, "
            "avec vos droits et vos données."
        ),
        "reports_all_title": "Tous les rapports planifiés",
        "reports_gallery": "Galerie des rapports",
        "reports_gallery_intro": "Les rapports publiés pour vous, du plus récent au plus ancien.",
        "reports_none": "Aucun rapport planifié. Planifiez-en un avec « datalab reports create ».",
        "reports_no_scheduling": (
            "Votre rôle ne comprend pas la planification de rapports : les rapports publiés "
            "pour vous sont dans la"
        ),
        "reports_gallery_none": "Aucun rapport publié pour vous pour l'instant.",
        "reports_run_now": "Lancer maintenant",
        "reports_col_report": "Rapport",
        "reports_col_owner": "Propriétaire",
        "reports_col_notebook": "Notebook",
        "reports_col_parameters": "Paramètres",
        "reports_col_schedule": "Planification",
        "reports_col_next": "Prochaine exécution",
        "reports_col_audience": "Public",
        "reports_col_runs": "Exécutions",
        "reports_col_status": "État",
        "reports_col_started": "Début",
        "reports_col_duration": "Durée",
        "reports_col_outputs": "Résultats",
        "reports_status_queued": "En attente",
        "reports_status_running": "En cours",
        "reports_status_succeeded": "Réussi",
        "reports_status_failed": "Échoué",
        "reports_html": "Rapport",
        "reports_notebook": "Notebook",
        "reports_log": "Journal",
        "reports_seconds": "{seconds} s",
        "reports_audience_all": "Tous les membres",
        "reports_audience_or": "ou",
        "reports_no_run": "Pas encore exécuté",
        "reports_run_queued": "Exécution de « {id} » lancée.",
        "reports_bad_path": (
            "Chemin de notebook refusé : « {path} ». Donnez un chemin relatif vers un "
            "fichier .ipynb de votre espace, de « bibliotheque/ » ou d'un « partenaire-<id>/ »."
        ),
        "reports_not_found": "Notebook introuvable : « {path} ».",
        "reports_unreadable": (
            "Notebook illisible : « {path} » n'est pas un notebook Jupyter valide, ou pas un "
            "fichier ordinaire atteint sans lien symbolique."
        ),
        "reports_no_parameters_cell": (
            "Le notebook « {path} » n'a pas de cellule marquée « parameters » : il ne peut "
            "pas recevoir de paramètres. Planifiez-le sans paramètres, ou ajoutez ce tag à "
            "la cellule qui définit ses paramètres."
        ),
        "reports_unknown_parameter": (
            "Paramètre « {name} » inconnu du notebook. Paramètres déclarés : {known}."
        ),
        "reports_wrong_type": "Le paramètre « {name} » attend une valeur {expected}, pas {value}.",
        "reports_no_kernel": (
            "Noyau (kernelspec) « {kernel} » introuvable. Noyaux disponibles : {available}."
        ),
        "reports_cell_failed": "La cellule {cell} a échoué : {error}",
        "reports_log_input": "Notebook d'entrée : {path}",
        "reports_log_output": "Notebook exécuté : {path}",
        "reports_log_work_dir": "Dossier de travail : {path}",
        "reports_log_kernel": "Exécution du notebook avec le noyau {kernel}",
        "reports_log_cell_start": "Cellule {cell} : début",
        "reports_log_cell_end": "Cellule {cell} : fin",
        "reports_log_alt_text": "Texte alternatif absent sur {count} image(s) du rapport.",
        "reports_log_succeeded": "Exécution réussie.",
        "reports_log_failed": "Exécution échouée : {error}",
        "reports_dead_kernel": (
            "le noyau s'est arrêté brutalement (tué, par exemple faute de mémoire)"
        ),
        "reports_cell_timeout": "la cellule a dépassé le délai de {seconds} s",
        "reports_run_timeout": "L'exécution a dépassé le délai total de {seconds} s et a été arrêtée.",
        "reports_oom": (
            "Mémoire dépassée : le conteneur a atteint la limite de son profil ({memory}) "
            "et le noyau a été tué."
        ),
        "reports_container_failed": "Docker n'a pas pu exécuter le rapport : {reason}",
        "reports_slurm_failed": (
            "Le job Slurm {job} s'est terminé avec l'état {state} (raison Slurm : {reason}, "
            "code de sortie {code})."
        ),
        "reports_slurm_lost": "{cluster} ne connaît plus le job {job} : son état final est inconnu.",
        "reports_slurm_not_entitled": (
            "Aucun partenaire de {owner} n'a de droits sur {cluster} : ce rapport ne peut pas y être exécuté."
        ),
        "reports_interrupted": (
            "Exécution interrompue : elle s'est arrêtée avec le service de rapports, sans résultat."
        ),
        "reports_interrupted_again": (
            "Exécution interrompue : elle s'est arrêtée avec le service de rapports, sans résultat ; "
            "elle est relancée une fois."
        ),
        "reports_not_allowed": (
            "Seuls les analystes et les administrateurs peuvent planifier des rapports."
        ),
        "reports_unknown_partner": "Partenaire « {partner} » inconnu. Partenaires déclarés : {known}.",
        "reports_exists": "Un rapport planifié « {id} » existe déjà.",
        "reports_id_unavailable": "L'identifiant « {id} » n'est pas disponible : choisissez-en un autre.",
        "reports_unknown_schedule": "Rapport planifié « {id} » introuvable.",
        "reports_unknown_run": "Exécution {id} introuvable.",
        "reports_busy": "Une exécution de « {id} » est déjà en attente ou en cours.",
        "reports_not_yours": "Seul le propriétaire du rapport ou un administrateur peut faire cela.",
        "reports_invalid": "Demande invalide : {error}",
        "reports_unknown_owner": "Le propriétaire « {owner} » est inconnu du hub.",
        "service_dashboards": "Tableaux de bord",
        "dash_title": "Tableaux de bord",
        "dash_intro": "Les tableaux de bord publiés pour vous par les analystes des partenaires DataLab.",
        "dash_search": "Rechercher (titre, partenaire, description)",
        "dash_search_button": "Rechercher",
        "dash_none": "Aucun tableau de bord n'est publié pour vous pour l'instant.",
        "dash_no_match": "Aucun tableau de bord ne correspond à « {query} ».",
        "dash_open": "Ouvrir le tableau de bord",
        "dash_meta": "{partner} — version {version}",
        "dash_no_preview": "Aperçu indisponible",
        "dash_preview_pending": "Aperçu en préparation",
        "dash_busy_title": "Tableau de bord très demandé",
        "dash_busy": (
            "Ce tableau de bord est très consulté en ce moment. Merci de réessayer dans "
            "un instant : cette page se recharge d'elle-même dans {seconds} secondes."
        ),
        "dash_busy_person_title": "Trop de tableaux de bord ouverts",
        "dash_busy_person": (
            "Vous avez déjà plusieurs tableaux de bord ouverts. Fermez-en un onglet, puis "
            "réessayez : cette page se recharge d'elle-même dans {seconds} secondes."
        ),
        "dash_retry": "Réessayer maintenant",
        "dash_forbidden_title": "Accès refusé",
        "dash_refused_title": "Adresse refusée",
        "dash_refused": (
            "Cette adresse ne fait pas partie de la page du tableau de bord, ou concerne la "
            "session d'une autre personne."
        ),
        "dash_not_found_title": "Tableau de bord introuvable",
        "dash_not_found": (
            "Ce tableau de bord n'existe pas, n'est plus publié ou n'est pas publié pour vous. "
            "Si vous pensez devoir y accéder, contactez {contact}."
        ),
        "dash_unavailable_title": "Tableau de bord indisponible",
        "dash_unavailable": (
            "Ce tableau de bord ne peut pas démarrer pour le moment. Réessayez plus tard "
            "ou contactez {contact}."
        ),
        "dash_error": (
            "Ce tableau de bord a rencontré une erreur et ne peut pas s'afficher entièrement. "
            "Son auteur dispose du détail de l'erreur ; réessayez plus tard ou contactez-le."
        ),
        "dash_back": "Retour aux tableaux de bord",
        "dash_voila_running": "Calcul de ",
        "dash_voila_cell": "Cellule {index} sur {count}",
        "dash_snapshot_loading": (
            "Version publiée, telle que dessinée à la publication : les commandes s'activent "
            "dans un instant."
        ),
        "dash_snapshot_unavailable": (
            "Les commandes ne sont pas disponibles pour le moment (tableau de bord très "
            "demandé) : cette page montre la version publiée ; elles s'activeront dès que possible."
        ),
        "dash_snapshot_failed": (
            "Les commandes n'ont pas pu s'activer : cette page montre la version publiée. "
            "Rechargez la page pour réessayer."
        ),
        "dash_voila_widget_loading": "Chargement du widget…",
        "dash_voila_widget_error": "Le widget n'a pas pu s'afficher",
        "dash_voila_widget_missing": "Le widget n'a pas pu s'afficher : son modèle est introuvable",
        "dash_publish_link": "Publier un notebook",
        "dash_publish_title": "Publier un tableau de bord",
        "dash_publish_intro": (
            "Le notebook est copié au moment de la publication : après l'avoir modifié, "
            "publiez-le à nouveau (même titre) pour en faire une nouvelle version."
        ),
        "dash_publish_notebook": "Notebook de votre espace",
        "dash_publish_choose": "— choisir un notebook —",
        "dash_publish_path": "ou son chemin depuis votre dossier personnel",
        "dash_publish_field_title": "Titre",
        "dash_publish_description": "Description",
        "dash_publish_audience": "Qui peut le voir",
        "dash_publish_partner": "Les membres de mon partenaire",
        "dash_publish_all": "Tous les membres de DataLab",
        "dash_publish_some": "Seulement ces partenaires et rôles (un partenaire coché ET un rôle coché) :",
        "dash_publish_roles": "Rôles",
        "dash_publish_partners": "Partenaires",
        "dash_publish_profile": "Environnement d'exécution",
        "dash_publish_identity_free": (
            "Le résultat ne dépend pas de qui le regarde (des noyaux peuvent être préparés à l'avance)"
        ),
        "dash_publish_submit": "Publier",
        "dash_published": "« {title} » est publié (version {version}).",
        "dash_publish_forbidden": "Seuls les analystes et les administrateurs publient des tableaux de bord.",
        "dash_err_no_partner": "Vous n'êtes membre d'aucun partenaire DataLab.",
        "dash_err_unknown_fields": "Champ(s) inconnu(s) : {fields}.",
        "dash_err_title_required": "Un titre est obligatoire.",
        "dash_err_id_unavailable": "L'identifiant « {id} » n'est pas disponible : choisissez-en un autre.",
        "dash_err_not_member": "Vous n'êtes pas membre du partenaire « {partner} ».",
        "dash_err_profile_closed": "L'environnement « {profile} » ne vous est pas ouvert ; possibles : {allowed}.",
        "dash_err_bad_audience": "Public invalide : {error}",
        "dash_err_unknown_partners": "Partenaire(s) inconnu(s) dans le public : {partners}.",
        "dash_err_no_id": "Impossible de tirer un identifiant du titre « {title} » : donnez un identifiant.",
        "dash_err_nbformat": "Seuls les notebooks au format nbformat 4 peuvent être publiés.",
        "dash_err_invalid_notebook": "Ce fichier n'est pas un notebook Jupyter valide.",
        "dash_err_too_large": "Le notebook dépasse {mib} Mio.",
        "dash_err_invalid_fields": "Valeur refusée pour : {fields}.",
        "dash_err_auth_required": "Authentification requise (jeton du hub ou connexion).",
        "dash_err_body_json": "Le corps de la requête doit être du JSON.",
        "dash_err_body_notebook": "Le corps de la requête doit contenir « notebook » (le JSON du .ipynb).",
        "dash_err_not_found": "Aucun tableau de bord « {id} » pour vous.",
        "dash_err_unpublish_forbidden": "Seuls son auteur ou un administrateur retirent un tableau de bord.",
        "dash_publish_error": "Publication impossible : {reason}",
        "dash_publish_no_list": "Vos notebooks ne peuvent pas être listés : {reason}",
        "dash_publish_no_notebook": "Choisissez un notebook ou indiquez son chemin.",
        "dash_role_analyst": "Analystes",
        "dash_role_decision-maker": "Décideurs",
        "dash_role_admin": "Administrateurs",
    },
    "en": {
        "site_name": "DataLab Hub",
        "site_tagline": "DataLab Normandie's notebook hub",
        "login_title": "Sign in",
        "login_intro": "Sign in with the account your partner organisation gave you.",
        "username": "Username",
        "password": "Password",
        "sign_in": "Sign in",
        "login_failed": "Invalid username or password.",
        "demo_notice": "Demo: accounts analyste1, analyste2, decideur1 and coordinateur.",
        "home_title": "My space",
        "home_start": "Start my lab",
        "home_open": "Open my lab",
        "pending_title": "Your lab is starting",
        "pending_wait": "You will be taken to your lab as soon as it is ready.",
        "pending_log": "Start log",
        "pending_cancel": "Cancel the start",
        "pending_cancelling": "Cancelling…",
        "pending_requested": "Lab requested.",
        "pending_spawning": "Starting the lab…",
        "pending_cancelled": "Start cancelled.",
        "pending_failed": "Start failed:",
        "pending_ready": "Your lab is ready.",
        "stopping_title": "Your lab is stopping",
        "stopping_wait": "You can start it again once it has stopped.",
        "not_running_title": "Your lab is not running",
        "not_running": "Start it to get back to your notebooks.",
        "not_running_failed_title": "The start failed",
        "not_running_failed": "The last start of your lab failed:",
        "not_running_retry": "Try again",
        "home_stop": "Stop my lab",
        "home_no_lab": (
            "Your role includes no JupyterLab lab: "
            "dashboards published for you open in the browser."
        ),
        "home_partners": "Your partners",
        "home_token": "Access tokens",
        "logout": "Sign out",
        "admin": "Administration",
        "spawn_title": "Choose an environment",
        "spawn_submit": "Start",
        "spawn_resources": "{cpu} core(s), {memory} of memory",
        "profile_forbidden": (
            "Profile '{profile}' is not open to your partner. Allowed profiles: {allowed}."
        ),
        "profile_unknown": "Unknown profile '{profile}'. Allowed profiles: {allowed}.",
        "health_unconfined": (
            "Health data ({partners}): {backend} cannot guarantee that no network access "
            "leaves the confined space, so nothing is run there for you. "
            "Choose another profile or contact {contact}."
        ),
        "no_profile": "No lab profile is open to your partner: contact {contact}.",
        "no_partner": "Your account belongs to no DataLab partner: contact {contact}.",
        "role_no_lab": "The role of '{user}' includes no lab: no lab can be started for this person.",
        "bad_option": "Unknown option '{option}'. Accepted options: {allowed}.",
        "slurm_fieldset": "Resources requested on {cluster}",
        "slurm_field_partition": "Partition",
        "slurm_field_account": "Slurm account",
        "slurm_field_qos": "QOS",
        "slurm_field_cores": "Cores",
        "slurm_field_memory": "Memory",
        "slurm_field_gpus": "GPUs",
        "slurm_field_walltime": "Walltime (H:MM)",
        "slurm_field_invalid": "Field '{label}' ({field}) refused: expected {expected}.",
        "slurm_expect_choice": "one of: {allowed}",
        "slurm_expect_integer": "a whole number from {min} to {max}",
        "slurm_expect_memory": "a number followed by M or G, from {min} to {max}",
        "slurm_expect_walltime": "a duration H:MM from {min} to {max}",
        "slurm_no_login": "Your account is mapped to no login on {cluster}: contact {contact}.",
        "slurm_login_unknown": "Your login '{login}' does not exist on {cluster}: contact {contact}.",
        "slurm_login_system": (
            "The login '{login}' is a system account of {cluster} (root, a service or a number "
            "below {min_uid}): no lab or report runs under it. Contact {contact}."
        ),
        "slurm_submitted": "Slurm job {job} submitted to {cluster} (account {account}, partition {partition}).",
        "slurm_pending": "Job {job} pending on {cluster}. Slurm reason: {reason}{explained}.{start}",
        "slurm_pending_start": " Expected start: {start}.",
        "slurm_pending_position": " Position in the queue of partition {partition}: {position} of {pending}.",
        "slurm_running": "Job {job} running on node {node}; starting the lab…",
        "slurm_refused": "{cluster} refused the job: {message}",
        "slurm_unavailable": "{cluster} does not answer: {message}",
        "slurm_ended": (
            "Job {job} ended while starting (Slurm state: {state}). "
            "End of its log ({log}): {tail}"
        ),
        "slurm_timeout": (
            "The lab did not start within {seconds} s (job {job}, Slurm state: {state}, "
            "reason: {reason}): the job was cancelled."
        ),
        "slurm_stop_unconfirmed": (
            "Job {job} still runs on {cluster} after {attempts} cancellations "
            "(scancel): tell the team."
        ),
        "slurm_reason_None": "not yet examined by the scheduler",
        "slurm_reason_Resources": "the requested resources are busy",
        "slurm_reason_Priority": "jobs of higher priority go first",
        "slurm_reason_QOS": "a QOS limit is reached",
        "slurm_reason_Assoc": "an account limit is reached",
        "slurm_reason_Partition": "a partition limit is reached",
        "home_walltime": "Your lab on {cluster} stops at {end} at the latest ({left} left).",
        "home_walltime_warning": "Your lab stops soon: save your work.",
        "docker_volume": "Preparing your home folder (volume {volume})…",
        "docker_container": "Starting container {container}…",
        "docker_waiting": "Container started: waiting for the JupyterLab server…",
        "docker_failed": "Docker could not start your lab: {reason}",
        "docker_removing": "Your previous lab is still being removed: try again in a moment.",
        "share_nav": "Sharing",
        "home_idle_notice": (
            "After {minutes} min without activity your lab is stopped automatically; "
            "your files are kept."
        ),
        "space_nav": "Disk space",
        "space_title": "Disk space",
        "space_intro": (
            "The space your files take: your home folder and the shared spaces of your "
            "partners and projects. Above the indicative quota, please tidy up."
        ),
        "space_warning": (
            "One of your spaces is above its indicative quota: delete or archive files, "
            "or contact the DataLab team."
        ),
        "space_mine": "My spaces",
        "space_everyone": "All spaces (administration)",
        "space_kind": "Kind",
        "space_place": "Space",
        "space_used": "Used",
        "space_files": "Files",
        "space_quota": "Indicative quota",
        "space_no_quota": "none",
        "space_over": "Over quota",
        "space_at_least": "at least",
        "space_kind_home": "Home folder",
        "space_kind_partner": "Partner space",
        "space_kind_project": "Project space",
        "space_nothing": "No space of yours is measured on this hub.",
        "space_cached": "Measures are refreshed at most every {minutes} minute(s).",
        "access_nav": "Access to my lab",
        "access_title": "Who accessed my lab",
        "access_intro": (
            "What other people or services did to your labs and your account, from the "
            "audit trail: a shared lab opened, a start or stop by an admin or by the idle "
            "culler, administration actions."
        ),
        "access_none": "Nobody else acted on your labs or your account.",
        "access_when": "When",
        "access_who": "Who",
        "access_what": "Action",
        "access_target": "Lab or account",
        "access_from": "From",
        "access_result": "Result",
        "access_result_success": "done",
        "access_result_failure": "failed",
        "access_result_refused": "refused",
        "access_action_server_access": "opened the lab",
        "access_action_server_start": "started the lab",
        "access_action_server_stop": "stopped the lab",
        "access_action_admin_server_start": "started the lab (administration)",
        "access_action_admin_server_stop": "stopped the lab (administration)",
        "access_action_admin_user_modify": "changed the account (administration)",
        "access_action_admin_user_delete": "deleted the account (administration)",
        "access_action_admin_token_create": "created an access token in your name (administration)",
        "access_action_admin_token_revoke": "revoked one of your tokens (administration)",
        "access_action_identity_offboard": "left a partner: tokens revoked, labs stopped",
        "share_title": "Share my lab",
        "share_intro": (
            "Open your lab to a person, a partner or a DataLab project: you then work "
            "together in the same lab, on the same files. You can withdraw a share at any "
            "time."
        ),
        "share_new": "New share",
        "share_with": "Share with",
        "share_people": "People",
        "share_groups": "Partners and projects",
        "share_submit": "Share",
        "share_code_create": "Create an invitation link",
        "share_code_result": "Invitation link (valid 24 h, for a person signed in to DataLab):",
        "share_mine": "What I share",
        "share_no_lab": "Your role includes no lab: you have nothing to share.",
        "share_recipient": "With",
        "share_since": "Since",
        "share_code": "Invitation link",
        "share_code_used": "Used",
        "share_code_expires": "Expires",
        "share_received": "Shared with me",
        "share_owner": "Lab of",
        "share_via": "Through",
        "share_direct": "you personally",
        "share_open": "Open the lab of",
        "share_running": "running",
        "share_stopped": "stopped",
        "share_revoke": "Withdraw",
        "share_decline": "Decline",
        "share_none": "None.",
        "share_done": "Done.",
        "share_failed": "Failed:",
        "share_forbidden": (
            "Your partner does not allow sharing labs (sensitive data). "
            "You can open the labs shared with you."
        ),
        "health_share": (
            "Health data rule: your lab gives access to {spaces}, which holds health data; it may "
            "only be shared with members of {spaces} (no invitation link)."
        ),
        "health_audience_partner": (
            "Health data rule: {space} holds health data; what its members publish may not be seen "
            "beyond {space}. Choose this partner alone as the audience (roles may narrow it)."
        ),
        "health_audience_none": (
            "Health data rule: you have access to {spaces}, which holds health data; no dashboard or "
            "report audience stays within {spaces}: publication refused."
        ),
        "airlock_nav": "Exports",
        "airlock_title": "File exports (health data)",
        "airlock_intro": (
            "A file leaves a health data space (towards a home folder, another partner, a dashboard, "
            "a report or a download) only through an export request: you name the file and the "
            "reason; a data steward of the space, other than you, approves or refuses it. The file "
            "approved is exactly the one copied when you asked (SHA-256 hash checked)."
        ),
        "airlock_no_space": (
            "You belong to no health data space: your files do not go through this page."
        ),
        "airlock_new": "New export request",
        "airlock_path": "File",
        "airlock_path_help": (
            "The path as you see it in your lab, e.g. partenaire-{partner}/results/table.csv (the "
            "partner's space), projet-<id>/… (a project's space) or a file of your home folder."
        ),
        "airlock_reason_label": "Why export it",
        "airlock_submit": "Request the export",
        "airlock_mine": "My requests",
        "airlock_to_decide": "Requests to review (data steward)",
        "airlock_decided": "Decisions taken in your spaces",
        "airlock_none": "None.",
        "airlock_col_id": "No.",
        "airlock_col_file": "File",
        "airlock_col_space": "Space",
        "airlock_col_requester": "Requester",
        "airlock_col_reason": "Reason",
        "airlock_col_size": "Size (bytes)",
        "airlock_col_hash": "SHA-256 hash",
        "airlock_col_status": "Status",
        "airlock_col_decision": "Decision",
        "airlock_download": "Download",
        "airlock_approve": "Approve",
        "airlock_refuse": "Refuse",
        "airlock_refuse_reason": "Why refuse",
        "airlock_status_pending": "pending",
        "airlock_status_approving": "being exported",
        "airlock_status_approved": "approved, exported",
        "airlock_status_refused": "refused",
        "airlock_decided_by": "by {who}",
        "airlock_requested": "Request no. {id} recorded: it awaits a data steward's decision.",
        "airlock_approved": "Request no. {id} approved: the file is exported.",
        "airlock_refused_done": "Request no. {id} refused.",
        "airlock_bad_path": (
            "Path refused: name a file of your lab by a relative path, without \"..\", \".\" or "
            "control characters."
        ),
        "airlock_link": "Refused: the path goes through a symbolic link. Only a real file of the space may leave.",
        "airlock_not_found": "No such file in the space.",
        "airlock_not_regular": "Refused: this path does not name a regular file.",
        "airlock_unreadable": "Refused: you cannot read this file yourself.",
        "airlock_too_large": "Refused: the file is larger than an export may be ({limit} MiB).",
        "airlock_hash_mismatch": (
            "Refused: the staged copy no longer matches the hash recorded with the request; it "
            "cannot be exported. Refuse the request and make a new one."
        ),
        "airlock_export_failed": "The export failed; the request stays pending. Contact the DataLab team.",
        "airlock_not_your_space": "Refused: \"{space}\" is not one of your spaces.",
        "airlock_not_health": (
            "\"{space}\" is not a health data space: its files do not go through the export airlock."
        ),
        "airlock_home_ambiguous": (
            "You are a member of several partners holding health data: put the file in the space of "
            "the partner concerned (partenaire-<id>/…) and request its export from there."
        ),
        "airlock_reason": "Give a reason of {low} to {high} characters.",
        "airlock_unknown": "No export request no. {id} visible to you.",
        "airlock_self": "Refused: nobody approves or refuses their own export request.",
        "airlock_not_steward": (
            "Refused: only a data steward of the space concerned (declared in the deployment file) "
            "decides on this request."
        ),
        "airlock_not_pending": "Request no. {id} has already been decided.",
        "airlock_not_exported": "Request no. {id} has no exported file.",
        "accept_title": "Accept the invitation",
        "accept_intro": "You ({user}) are invited to open {owner}'s lab.",
        "accept_not_running": (
            "This lab is not running: after accepting, ask {owner} to start it."
        ),
        "accept_grants": "By accepting, you are granted, for this lab only:",
        "accept_submit": "Accept the invitation",
        "accept_next": "You will then be taken to",
        "oauth_title": "Authorize access",
        "oauth_intro": (
            "You ({user}) are opening a lab or a service that is not yours: confirm that "
            "you want to access it with your DataLab account."
        ),
        "oauth_grants": "This access will allow:",
        "oauth_submit": "Authorize",
        "footer": "DataLab Normandie — the Normandy Region and its 21 partners",
        "page_lang": "en",
        "page_noscript": "DataLab Hub needs JavaScript: enable it in your browser to continue.",
        "page_menu": "Show or hide the menu",
        "page_theme": "Light or dark theme",
        "page_error": "Error",
        "page_close": "Close",
        "logout_done": "You are signed out.",
        "logout_login_again": "Sign in again",
        "login_oidc_intro": (
            "Sign in with your organisation's account: "
            "DataLab Hub recognises your partner from it."
        ),
        "login_with": "Sign in with {provider}",
        "token_title": "Access tokens",
        "token_note": "Note",
        "token_note_placeholder": "what this token is for",
        "token_note_help": "This note will help you keep track of what your tokens are for.",
        "token_expires": "Token expires in",
        "token_1h": "1 hour",
        "token_1d": "1 day",
        "token_1w": "1 week",
        "token_1m": "1 month",
        "token_1y": "1 year",
        "token_never": "Never",
        "token_scopes": "Permissions",
        "token_scopes_placeholder": "the token's scopes, separated by spaces",
        "token_scopes_help": (
            "You can limit what the token can do. Without any scope, "
            "the token can do everything you can do."
        ),
        "token_request": "Request a new access token",
        "token_new": "Your new access token",
        "token_copy": "Copy this token: it will not be shown again, but you can come back here for a new one.",
        "token_api_tokens": "API tokens",
        "token_api_tokens_help": (
            "These tokens give access to the hub's API. Revoking the token of a running lab "
            "requires restarting that lab."
        ),
        "token_last_used": "Last used",
        "token_created": "Created",
        "token_expires_at": "Expires",
        "token_scopes_summary": "scopes",
        "token_revoke": "revoke",
        "token_apps": "Authorized applications",
        "token_apps_help": (
            "These applications (mostly your labs and the hub's services) identify you through "
            "OAuth; their tokens identify you, they do not act on your behalf."
        ),
        "token_app": "Application",
        "token_app_service": "The hub's {name} service",
        "token_app_lab": "Lab {path}",
        "token_first_authorized": "First authorized",
        "error_title": "Error {code}",
        "error_400": "The request could not be processed.",
        "error_403": "You do not have access to this page.",
        "error_404": "This page does not exist.",
        "error_405": "This action is not possible here.",
        "error_500": "An internal error occurred: try again later or contact the DataLab team.",
        "error_503": "The service does not answer at the moment: try again in a few moments.",
        "error_other": "The request did not succeed.",
        "error_home": "Back to My space",
        "hub_err_named_servers": "One lab per person: named servers are not offered.",
        "hub_err_no_permission": "You do not have access to {what}.",
        "hub_err_no_permission_lab": "You do not have access to the lab {path}.",
        "hub_err_scopes": "Your role does not allow this action (required: {scopes}).",
        "hub_err_no_user": "No person '{user}' on this hub.",
        "hub_err_no_server": "{user} has no lab named '{server}'.",
        "hub_err_running": "This lab is already running.",
        "hub_err_no_access": "This resource does not exist or you have no access to it.",
        "hub_err_share_expired": "This share link does not exist or has expired.",
        "hub_err_share_self": "You cannot share your lab with yourself.",
        "hub_err_share_code": "This share code is not valid.",
        "refused_title": "Access refused",
        "refused_no_partner": (
            "Your account belongs to no DataLab partner: contact {contact} to be attached to one."
        ),
        "refused_claim_missing": (
            "Your identity provider did not say which organisation you belong to: contact {contact}."
        ),
        "refused_bad_claim": (
            "The information sent by your identity provider is unreadable or malformed: "
            "contact {contact}."
        ),
        "refused_bad_username": (
            "Your username, as sent by your identity provider, is missing or holds characters "
            "that are not accepted (letters, digits, '.', '_', '-', '@'): contact {contact}."
        ),
        "refused_account_conflict": (
            "Another account of your identity provider already uses this username on DataLab: "
            "to protect its data, the login is refused. Contact {contact}."
        ),
        "service_reports": "Reports",
        "reports_title": "Scheduled reports",
        "reports_intro": (
            "Your notebooks run automatically (papermill), with no lab open, "
            "with your rights and your data."
        ),
        "reports_all_title": "All scheduled reports",
        "reports_gallery": "Report gallery",
        "reports_gallery_intro": "Reports published for you, newest first.",
        "reports_none": "No scheduled report. Schedule one with 'datalab reports create'.",
        "reports_no_scheduling": (
            "Your role does not include scheduling reports: the reports published for you "
            "are in the"
        ),
        "reports_gallery_none": "No report published for you yet.",
        "reports_run_now": "Run now",
        "reports_col_report": "Report",
        "reports_col_owner": "Owner",
        "reports_col_notebook": "Notebook",
        "reports_col_parameters": "Parameters",
        "reports_col_schedule": "Schedule",
        "reports_col_next": "Next run",
        "reports_col_audience": "Audience",
        "reports_col_runs": "Runs",
        "reports_col_status": "Status",
        "reports_col_started": "Started",
        "reports_col_duration": "Duration",
        "reports_col_outputs": "Outputs",
        "reports_status_queued": "Queued",
        "reports_status_running": "Running",
        "reports_status_succeeded": "Succeeded",
        "reports_status_failed": "Failed",
        "reports_html": "Report",
        "reports_notebook": "Notebook",
        "reports_log": "Log",
        "reports_seconds": "{seconds} s",
        "reports_audience_all": "All members",
        "reports_audience_or": "or",
        "reports_no_run": "Not run yet",
        "reports_run_queued": "Run of '{id}' started.",
        "reports_bad_path": (
            "Notebook path refused: '{path}'. Give a relative path to an .ipynb file in "
            "your space, in 'bibliotheque/' or in a 'partenaire-<id>/'."
        ),
        "reports_not_found": "Notebook not found: '{path}'.",
        "reports_unreadable": (
            "Unreadable notebook: '{path}' is not a valid Jupyter notebook, or not a regular "
            "file reached without a symbolic link."
        ),
        "reports_no_parameters_cell": (
            "Notebook '{path}' has no cell tagged 'parameters': it cannot receive "
            "parameters. Schedule it without parameters, or add this tag to the cell that "
            "defines its parameters."
        ),
        "reports_unknown_parameter": (
            "Parameter '{name}' is unknown to the notebook. Declared parameters: {known}."
        ),
        "reports_wrong_type": "Parameter '{name}' expects a {expected} value, not {value}.",
        "reports_no_kernel": "Kernelspec '{kernel}' not found. Available kernels: {available}.",
        "reports_cell_failed": "Cell {cell} failed: {error}",
        "reports_log_input": "Input notebook: {path}",
        "reports_log_output": "Executed notebook: {path}",
        "reports_log_work_dir": "Working directory: {path}",
        "reports_log_kernel": "Running the notebook with the {kernel} kernel",
        "reports_log_cell_start": "Cell {cell}: start",
        "reports_log_cell_end": "Cell {cell}: end",
        "reports_log_alt_text": "Alternative text is missing on {count} image(s) of the report.",
        "reports_log_succeeded": "Run succeeded.",
        "reports_log_failed": "Run failed: {error}",
        "reports_dead_kernel": "the kernel died (killed, for instance out of memory)",
        "reports_cell_timeout": "the cell ran past its {seconds} s timeout",
        "reports_run_timeout": "The run exceeded its {seconds} s overall timeout and was stopped.",
        "reports_oom": (
            "Out of memory: the container reached its profile's limit ({memory}) and the "
            "kernel was killed."
        ),
        "reports_container_failed": "Docker could not run the report: {reason}",
        "reports_slurm_failed": (
            "Slurm job {job} ended in state {state} (Slurm reason: {reason}, exit code {code})."
        ),
        "reports_slurm_lost": "{cluster} no longer knows job {job}: its final state is unknown.",
        "reports_slurm_not_entitled": (
            "None of {owner}'s partners is entitled to {cluster}: this report cannot run there."
        ),
        "reports_interrupted": "Run interrupted: it ended with the reports service, without a result.",
        "reports_interrupted_again": (
            "Run interrupted: it ended with the reports service, without a result; it is run again once."
        ),
        "reports_not_allowed": "Only analysts and administrators can schedule reports.",
        "reports_unknown_partner": "Unknown partner '{partner}'. Declared partners: {known}.",
        "reports_exists": "A scheduled report '{id}' already exists.",
        "reports_id_unavailable": "The id '{id}' is not available: choose another one.",
        "reports_unknown_schedule": "Scheduled report '{id}' not found.",
        "reports_unknown_run": "Run {id} not found.",
        "reports_busy": "A run of '{id}' is already queued or running.",
        "reports_not_yours": "Only the report's owner or an administrator can do this.",
        "reports_invalid": "Invalid request: {error}",
        "reports_unknown_owner": "Owner '{owner}' is unknown to the hub.",
        "service_dashboards": "Dashboards",
        "dash_title": "Dashboards",
        "dash_intro": "Dashboards published for you by the analysts of DataLab's partners.",
        "dash_search": "Search (title, partner, description)",
        "dash_search_button": "Search",
        "dash_none": "No dashboard is published for you yet.",
        "dash_no_match": "No dashboard matches '{query}'.",
        "dash_open": "Open the dashboard",
        "dash_meta": "{partner} — version {version}",
        "dash_no_preview": "No preview",
        "dash_preview_pending": "Preview being made",
        "dash_busy_title": "Dashboard in high demand",
        "dash_busy": (
            "This dashboard is in high demand right now. Please try again in a moment: "
            "this page reloads itself in {seconds} seconds."
        ),
        "dash_busy_person_title": "Too many dashboards open",
        "dash_busy_person": (
            "You already have several dashboards open. Close one of their tabs, then try "
            "again: this page reloads itself in {seconds} seconds."
        ),
        "dash_retry": "Try again now",
        "dash_forbidden_title": "Access denied",
        "dash_refused_title": "Address refused",
        "dash_refused": (
            "This address is not part of the dashboard's page, or belongs to someone "
            "else's session."
        ),
        "dash_not_found_title": "Dashboard not found",
        "dash_not_found": (
            "This dashboard does not exist, is no longer published or is not published for "
            "you. If you think you should see it, contact {contact}."
        ),
        "dash_unavailable_title": "Dashboard unavailable",
        "dash_unavailable": (
            "This dashboard cannot start right now. Try again later or contact {contact}."
        ),
        "dash_error": (
            "This dashboard ran into an error and cannot be shown entirely. Its author has "
            "the details; try again later or contact them."
        ),
        "dash_back": "Back to the dashboards",
        "dash_voila_running": "Running ",
        "dash_voila_cell": "Cell {index} of {count}",
        "dash_snapshot_loading": "The published version, as drawn at publish: the controls come alive in a moment.",
        "dash_snapshot_unavailable": (
            "The controls are not available right now (dashboard in high demand): this page "
            "shows the published version; they will come alive as soon as possible."
        ),
        "dash_snapshot_failed": (
            "The controls could not come alive: this page shows the published version. "
            "Reload the page to try again."
        ),
        "dash_voila_widget_loading": "Loading widget...",
        "dash_voila_widget_error": "Error displaying widget",
        "dash_voila_widget_missing": "Error displaying widget: model not found",
        "dash_publish_link": "Publish a notebook",
        "dash_publish_title": "Publish a dashboard",
        "dash_publish_intro": (
            "The notebook is copied when you publish: after editing it, publish it again "
            "(same title) to make a new version."
        ),
        "dash_publish_notebook": "Notebook from your space",
        "dash_publish_choose": "— choose a notebook —",
        "dash_publish_path": "or its path from your home folder",
        "dash_publish_field_title": "Title",
        "dash_publish_description": "Description",
        "dash_publish_audience": "Who may see it",
        "dash_publish_partner": "The members of my partner",
        "dash_publish_all": "Every DataLab member",
        "dash_publish_some": "Only these partners and roles (a ticked partner AND a ticked role):",
        "dash_publish_roles": "Roles",
        "dash_publish_partners": "Partners",
        "dash_publish_profile": "Runtime environment",
        "dash_publish_identity_free": "The output does not depend on who views it (kernels may be prepared in advance)",
        "dash_publish_submit": "Publish",
        "dash_published": "'{title}' is published (version {version}).",
        "dash_publish_forbidden": "Only analysts and admins publish dashboards.",
        "dash_err_no_partner": "You belong to no DataLab partner.",
        "dash_err_unknown_fields": "Unknown field(s): {fields}.",
        "dash_err_title_required": "A title is required.",
        "dash_err_id_unavailable": "The id '{id}' is not available: choose another one.",
        "dash_err_not_member": "You are not a member of partner '{partner}'.",
        "dash_err_profile_closed": "Profile '{profile}' is not open to you; allowed: {allowed}.",
        "dash_err_bad_audience": "Invalid audience: {error}",
        "dash_err_unknown_partners": "Unknown partner(s) in the audience: {partners}.",
        "dash_err_no_id": "Cannot derive a dashboard id from the title '{title}': give an id.",
        "dash_err_nbformat": "Only nbformat 4 notebooks can be published.",
        "dash_err_invalid_notebook": "This file is not a valid Jupyter notebook.",
        "dash_err_too_large": "The notebook is larger than {mib} MiB.",
        "dash_err_invalid_fields": "Value refused for: {fields}.",
        "dash_err_auth_required": "Authentication required (hub token or login).",
        "dash_err_body_json": "The request body must be JSON.",
        "dash_err_body_notebook": "The request body needs a 'notebook' (the .ipynb JSON).",
        "dash_err_not_found": "No dashboard '{id}' for you.",
        "dash_err_unpublish_forbidden": "Only its author or an admin unpublishes a dashboard.",
        "dash_publish_error": "Cannot publish: {reason}",
        "dash_publish_no_list": "Your notebooks cannot be listed: {reason}",
        "dash_publish_no_notebook": "Choose a notebook or give its path.",
        "dash_role_analyst": "Analysts",
        "dash_role_decision-maker": "Decision-makers",
        "dash_role_admin": "Admins",
    },
}


def text(language: str, key: str, /, **values: object) -> str:
    """The text ``key`` in ``language`` (``fr`` or ``en``) with ``values`` filled in.
    Raises ``KeyError`` for an unknown key or language."""
    return CATALOGUE[language][key].format(**values)


#: The texts of JupyterHub's admin page (a React bundle without translations) said in the
#: deployment's language by the page's own script (hub/templates/admin.html): exact texts,
#: then patterns (a JavaScript regular expression and its replacement).
ADMIN_PAGE: dict[str, dict[str, object]] = {
    "fr": {
        "texts": {
            "Start All": "Tout démarrer",
            "Stop All": "Tout arrêter",
            "Shutdown Hub": "Arrêter le hub",
            "Only Active Servers": "Labs actifs seulement",
            "Add Users": "Ajouter des personnes",
            "Manage Groups": "Gérer les groupes",
            "User": "Personne",
            "Server": "Lab",
            "Last Activity": "Dernière activité",
            "Server Start Time": "Démarré",
            "Profile": "Profil",
            "Actions": "Actions",
            "Never": "Jamais",
            "Start Server": "Démarrer le lab",
            "Stop Server": "Arrêter le lab",
            "Access Server": "Ouvrir le lab",
            "Delete Server": "Supprimer le lab",
            "Delete user": "Supprimer la personne",
            "Add user": "Ajouter la personne",
            "Add by username": "Ajouter par identifiant",
            "Add Item": "Ajouter",
            "Create Group": "Créer le groupe",
            "Delete Group": "Supprimer le groupe",
            "Create": "Créer",
            "Clear": "Effacer",
            "Groups": "Groupes",
            "Activity": "Activité",
            "Home": "Accueil",
            "Close alert": "Fermer l'alerte",
            "updated username": "nouvel identifiant",
            "item selected": "élément sélectionné",
            "item unselected": "élément désélectionné",
            "Spawn Page": "Page de démarrage",
            "Edit User": "Modifier",
            "Previous": "Précédent",
            "Next": "Suivant",
            "Items per page:": "Lignes par page :",
            "Displaying": "Affichage",
            "Search Users": "Rechercher une personne",
            "user-search": "Rechercher une personne",
            "New Group": "Nouveau groupe",
            "Manage group properties": "Propriétés du groupe",
            "Manage group members": "Membres du groupe",
            "Delete": "Supprimer",
            "Apply": "Appliquer",
            "Back": "Retour",
            "Close": "Fermer",
            "Admin": "Administrateur",
            "Server is pending": "Le lab démarre",
            "usernames separated by line": "identifiants, un par ligne",
            "group name...": "nom du groupe…",
            "no groups created...": "aucun groupe",
            "Failed to edit user.": "La modification a échoué.",
            "Failed to update user list.": "La liste n'a pas pu être mise à jour.",
            "Could not update users list.": "La liste n'a pas pu être mise à jour.",
            "Failed to edit group.": "La modification du groupe a échoué.",
            "Failed to delete group.": "La suppression du groupe a échoué.",
            "User already exists.": "Cette personne existe déjà.",
            "Group already exists.": "Ce groupe existe déjà.",
            "Failed to create user.": "La création de la personne a échoué.",
            "Failed to create group.": "La création du groupe a échoué.",
            "Failed to update users.": "La mise à jour a échoué.",
            "Failed to update group list.": "La liste des groupes n'a pas pu être mise à jour.",
            "Could not update groups list.": "La liste des groupes n'a pas pu être mise à jour.",
            "Failed to start servers.": "Les labs n'ont pas pu être démarrés.",
            "Failed to stop servers.": "Les labs n'ont pas pu être arrêtés.",
            "Value not valid": "Valeur non valable",
            "Unexpected Application Error!": "Erreur inattendue de la page.",
            "Start all default servers on the current page": "Démarrer les labs de cette page",
            "Stop all servers including named servers on the current page": "Arrêter les labs de cette page",
            "check to only show running servers, otherwise show all": "cocher pour ne voir que les labs actifs",
        },
        "patterns": [
            [r"^of (\d+)$", "sur $1"],
            [r"^(\d+) seconds ago$", "il y a $1 s"],
            [r"^(\d+) minutes ago$", "il y a $1 min"],
            [r"^(\d+) hours ago$", "il y a $1 h"],
            [r"^(\d+) days ago$", "il y a $1 j"],
            [r"^(\d+) months ago$", "il y a $1 mois"],
            [r"^(\d+) years ago$", "il y a $1 an(s)"],
        ],
    },
}

#: JupyterHub's own error messages a person can meet on a page, and the key saying each in
#: the deployment's language (named groups fill the text).
HUB_ERRORS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"Named servers are not enabled\.?"), "hub_err_named_servers"),
    (re.compile(r"You do not have permission to access (?P<what>.+)"), "hub_err_no_permission"),
    (re.compile(r"Action is not authorized with current scopes; requires any of \[(?P<scopes>.*)\]"),
     "hub_err_scopes"),
    (re.compile(r"No such user:? (?P<user>.+)"), "hub_err_no_user"),
    (re.compile(r"(?P<user>\S+) has no such server (?P<server>.*)"), "hub_err_no_server"),
    (re.compile(r".+ is already running"), "hub_err_running"),
    (re.compile(r"No access to resources or resources not found"), "hub_err_no_access"),
    (re.compile(r"Share not found or expired"), "hub_err_share_expired"),
    (re.compile(r"You can't share with yourself!"), "hub_err_share_self"),
    (re.compile(r"Invalid share code: .*"), "hub_err_share_code"),
]
_SERVER_AT = re.compile(r"Server at (?P<path>\S+)")


def hub_error(language: str, status_code: int, message: str | None) -> str:
    """What an error page says: JupyterHub's known English ``message`` in ``language``, the
    status' own sentence when there is no message, else ``message`` as it is (the hub's own
    messages are already in the deployment's language)."""
    if not message:
        key = f"error_{status_code}"
        return text(language, key if key in CATALOGUE[language] else "error_other")
    if language == "en":
        return message
    for pattern, key in HUB_ERRORS:
        found = pattern.fullmatch(message.strip())
        if found:
            values = found.groupdict()
            server = _SERVER_AT.fullmatch(values.get("what", ""))
            if server:
                return text(language, "hub_err_no_permission_lab", path=server["path"])
            return text(language, key, **values)
    return message
